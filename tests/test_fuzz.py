"""Stateful API fuzzing (README, "API fuzzing"): schemathesis walks sdk/openapi.json's links
against the live service (real daphne, a real Piper worker) with tenant A's key: it creates
presets, pronunciation dictionaries, cloned-voice uploads and keys, then reads, changes, speaks
with and deletes them. Every answer must be no 5xx, one of the operation's documented statuses
and content types, and match its schema. Each call that names one of A's live objects is first
sent with tenant B's key: a path id answers 404, and an id in a body answers what a missing id
would ("not found" is the same answer for missing and not yours); at the end of each scenario
B's lists hold none of A's objects.

A stateless pass then sends every operation, linked or not, valid and invalid inputs under
the same response checks. Both are repeatable (fixed seeds, no example database) and bounded
(a fixed number of scenarios, steps and cases), so CI runs them as any other test."""

from __future__ import annotations

import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.engine.errors import is_inconsistent_replay
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)
from schemathesis.specs.openapi.stateful import OpenAPIStateMachine

from tests.conftest import ROOT, Service
from tests.speech import joe_seconds, wav
from voices import storage

SNAPSHOT = ROOT / "sdk" / "openapi.json"
RESPONSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Within a scenario: after a DELETE the object is gone; after a create it can be read.
SCENARIO_CHECKS = [use_after_free, ensure_resource_availability]
# Revoking a key keeps it, `revoked`, in GET /v1/keys/{id} and the list (for audit): a soft
# delete, so "a deleted resource answers 404" does not hold there.
SOFT_DELETED = "/v1/keys/{key_id}"
# B's lists, read at the end of each scenario, and the field that holds their items.
LISTS = {
    "/v1/voices": "voices",
    "/v1/pronunciations": "pronunciation_dictionaries",
    "/v1/keys": "keys",
}
# The walk's size: scenarios of up to STEPS calls, in suites of fixed seeds (repeatable).
SCENARIOS = 150
STEPS = 10
SEEDS = range(1, 11)
SETTINGS = hypothesis.settings(
    max_examples=SCENARIOS,
    stateful_step_count=STEPS,
    deadline=None,
    database=None,
    # Shrinking replays scenarios against a server whose state has moved on (names taken,
    # objects gone), which Hypothesis reports as a flaky strategy instead of the failure.
    phases=[hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck),
)


@dataclass(frozen=True)
class RealInputs:
    """What random data never makes: a stock voice's id for a preset's base, and 12 s of real
    speech for a cloned voice's reference clip."""

    stock_voice: str
    language: str
    clip: bytes


@dataclass
class Tally:
    """What the walk did and found. Failures are collected, not raised: Hypothesis replays a
    failing scenario to report it, and against a live server the replay takes another path.
    The probe counts let the test fail when a check never ran."""

    owned: dict[str, str] = field(default_factory=dict)  # A's live objects: id → create path
    failures: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    probes: Counter[str] = field(default_factory=Counter)
    scenarios: int = 0

    def fail(self, case: Case, problem: str) -> None:
        self.failures.append(f"{problem}\n  reproduce: {case.as_curl_command()}")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _real_inputs(service: Service, key: str) -> RealInputs:
    voices = httpx.get(service.url + "/v1/voices", headers=_bearer(key), timeout=30).json()
    stock = [v for v in voices["voices"] if v["type"] == "stock" and v["engine"] == "piper"]
    assert stock, f"no Piper stock voice listed: {voices}"
    return RealInputs(stock[0]["id"], stock[0]["language"], wav(*joe_seconds(12.0)))


def _steer(case: Case, real: RealInputs) -> None:
    """Half the generated presets and uploads (by their name's length, so the run stays
    repeatable) get a real base voice (in its language) or clip, so the walk reaches the
    created object's links; the other half keep their random values and test the refusals."""
    body: Any = case.body
    if not isinstance(body, dict) or len(str(body.get("name", ""))) % 2:
        return
    if case.operation.label == "POST /v1/voices":
        body.update(base_voice=real.stock_voice, language=real.language)
    elif case.operation.label == "POST /v1/voices/upload":
        body.update(file=real.clip, consent=True)
        body.pop("consent_recording", None)


def _strings_in(body: Any) -> Iterator[str]:
    if isinstance(body, dict):
        for value in body.values():
            yield from _strings_in(value)
    elif isinstance(body, list):
        for item in body:
            yield from _strings_in(item)
    elif isinstance(body, str):
        yield body


def _with_missing_ids(body: Any, ids: set[str]) -> Any:
    if isinstance(body, dict):
        return {name: _with_missing_ids(value, ids) for name, value in body.items()}
    if isinstance(body, list):
        return [_with_missing_ids(item, ids) for item in body]
    return str(uuid.uuid4()) if isinstance(body, str) and body in ids else body


def _answer(response: Response | httpx.Response) -> tuple[int, str | None]:
    try:
        return response.status_code, str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return response.status_code, None


def _probe_path_as_b(case: Case, key_b: str, tally: Tally) -> None:
    named = [str(v) for v in (case.path_parameters or {}).values() if str(v) in tally.owned]
    if not named:
        return
    answer = case.call(headers=_bearer(key_b))
    tally.probes["path"] += 1
    if answer.status_code != 404:
        tally.fail(
            case,
            f"tenant B's {case.method} {case.formatted_path} reached A's {named}: "
            f"{answer.status_code} {answer.text[:300]}",
        )


def _probe_body_as_b(case: Case, key_b: str, tally: Tally) -> None:
    """Both calls carry the body alone (no generated headers): an Idempotency-Key sent twice
    with two bodies would be refused for that."""
    named = {value for value in _strings_in(case.body) if value in tally.owned}
    if not named:
        return
    url = case.operation.schema.get_base_url() + case.formatted_path

    def sent(body: Any) -> httpx.Response:
        return httpx.request(case.method, url, json=body, headers=_bearer(key_b), timeout=60)

    answer, missing = sent(case.body), sent(_with_missing_ids(case.body, named))
    tally.probes["body"] += 1
    if _answer(answer) != _answer(missing):
        tally.fail(
            case,
            f"tenant B's {case.method} {case.path} naming A's {sorted(named)} answered "
            f"{answer.status_code} {answer.text[:300]}; with a missing id: "
            f"{missing.status_code} {missing.text[:300]}",
        )


def _b_lists_hold_none_of_a(service: Service, key_b: str, tally: Tally) -> None:
    for path, items in LISTS.items():
        listed = httpx.get(service.url + path, headers=_bearer(key_b), timeout=30)
        tally.probes["list"] += 1
        leaked = {str(item["id"]) for item in listed.json()[items]} & tally.owned.keys()
        if listed.status_code != 200 or leaked:
            tally.failures.append(f"B's GET {path}: {listed.status_code}, A's ids {leaked}")


def _record(response: Response, case: Case, tally: Tally) -> None:
    tally.statuses[f"{case.method} {case.path} {response.status_code}"] += 1
    if case.method == "POST" and response.status_code in (201, 202):
        created = response.json().get("id")
        if isinstance(created, str):
            tally.owned[created] = case.path
    elif case.method == "DELETE" and response.status_code in (200, 204):
        for value in (case.path_parameters or {}).values():
            tally.owned.pop(str(value), None)


def _schema(service: Service) -> BaseSchema:
    schema = schemathesis.openapi.from_path(str(SNAPSHOT))
    schema.config.update(base_url=service.url)
    # The key is the test's (A's, or B's for a probe); a generated Authorization header would
    # only be refused before anything else is read.
    schema.config.generation.update(with_security_parameters=False)
    return schema


def _machine(
    service: Service, keys: tuple[str, str], real: RealInputs, tally: Tally
) -> type[OpenAPIStateMachine]:
    key_a, key_b = keys
    schema = _schema(service)
    # Only the links the schema declares (callwaiting_tts/openapi.py): inference also guesses
    # some that are wrong (a preset's id to the stock-only /v1/voices/{voice_id}/preview).
    schema.config.phases.stateful.inference.algorithms = []
    base: Any = schema.as_state_machine()

    class Fuzz(base):
        def step(self, input: Any) -> Any:
            # An error here would surface as Hypothesis's flaky replay, which _walk passes over.
            try:
                return super().step(input)
            except Exception:
                tally.failures.append(traceback.format_exc())
                raise

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"headers": _bearer(key_a)}

        def before_call(self, case: Case) -> None:
            _steer(case, real)
            # Before A's own call: once A has deleted an object, B's 404 would prove nothing.
            _probe_path_as_b(case, key_b, tally)
            _probe_body_as_b(case, key_b, tally)

        def after_call(self, response: Response, case: Case) -> None:
            super().after_call(response, case)
            _record(response, case, tally)

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            checks = RESPONSE_CHECKS + SCENARIO_CHECKS
            if case.path == SOFT_DELETED:
                checks = [check for check in checks if check is not use_after_free]
            try:
                case.validate_response(
                    response, checks=checks, transport_kwargs=kwargs or None, recorder=self.recorder
                )
            except (AssertionError, FailureGroup) as failed:
                tally.fail(case, f"{case.method} {case.formatted_path}: {failed}")

        def teardown(self) -> None:
            _b_lists_hold_none_of_a(service, key_b, tally)
            tally.scenarios += 1
            super().teardown()

    return Fuzz


def _walk(machine: type[OpenAPIStateMachine], tally: Tally) -> None:
    """Runs suites of scenarios until SCENARIOS have run. Hypothesis ends a suite early when a
    replayed prefix of choices meets a server that answers differently the second time (a
    name now taken): the scenarios run so far stand, and the next seed goes on, as
    schemathesis's own runner does."""
    for seed in SEEDS:
        try:
            hypothesis.seed(seed)(machine).run(settings=SETTINGS)
        except Exception as ended:
            if not (isinstance(ended, Flaky) or is_inconsistent_replay(ended)):
                raise
        if tally.scenarios >= SCENARIOS:
            return


@pytest.fixture
def fuzzed_tenant(make_tenant: Callable[[str], Any]) -> Iterator[Any]:
    """A tenant whose uploaded clips are deleted afterwards (dropping its schema leaves them)."""
    made = make_tenant("fuzz-a")
    yield made
    storage.storage_delete_tenant(made.tenant.schema_name)


def test_stateful_fuzzing_finds_no_5xx_no_schema_violation_and_no_cross_tenant_access(
    service: Service, fuzzed_tenant: Any, make_tenant: Callable[[str], Any], tts_worker: Any
) -> None:
    a, b = fuzzed_tenant, make_tenant("fuzz-b")
    tally = Tally()
    machine = _machine(service, (a.api_key, b.api_key), _real_inputs(service, a.api_key), tally)
    _walk(machine, tally)
    assert not tally.failures, "\n\n".join(tally.failures)
    # The walk reached what the test is for: a preset made, then used and probed as B.
    reached = dict(tally.statuses)
    assert tally.statuses["POST /v1/voices 201"] > 0, f"no preset made: {reached}"
    assert tally.statuses["POST /v1/synthesize 200"] > 0, f"no synthesis: {reached}"
    assert tally.probes["path"] > 0, f"no call named A's object by path: {reached}"
    assert tally.probes["body"] > 0, f"no synthesis named A's object: {reached}"
    assert tally.probes["list"] > 0


# The stateless pass: every operation, linked or not (usage, statements, health, speech...),
# with valid and invalid inputs.
PER_OPERATION = hypothesis.settings(
    max_examples=25, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)  # fmt: skip


def _fuzz_operation(operation: APIOperation, key: str, failures: list[str]) -> int:
    """Sends PER_OPERATION cases, half of them invalid; returns how many were sent."""
    sent = 0
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategy = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))

    @hypothesis.given(case=strategy)
    @PER_OPERATION
    def run(case: Case) -> None:
        nonlocal sent
        response = case.call(headers=_bearer(key))
        sent += 1
        try:
            case.validate_response(response, checks=RESPONSE_CHECKS)
        except (AssertionError, FailureGroup) as failed:
            failures.append(f"{failed}\n  reproduce: {case.as_curl_command()}")

    run()
    return sent


def test_every_operation_answers_valid_and_invalid_input_within_its_schema(
    service: Service, make_tenant: Callable[[str], Any], tts_worker: Any
) -> None:
    key = make_tenant("fuzz").api_key
    failures: list[str] = []
    results = list(_schema(service).get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), [r for r in results if not isinstance(r, Ok)]
    sent = {operation.label: _fuzz_operation(operation, key, failures) for operation in operations}
    assert not failures, "\n\n".join(failures)
    assert all(sent.values()), f"operations with no case sent: {sent}"
