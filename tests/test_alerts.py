"""The alert rules and the Grafana dashboards read only series the service exports, in PromQL
that Prometheus accepts, and each alert fires when it should and stays quiet when it should not.

promtool (Debian's prometheus package; `make test` installs it as root) checks the rules and runs
their unit tests, docker/prometheus/alerts.test.yml, on synthetic series: no Prometheus server
runs. Without promtool these tests skip, except under CI=true, where they fail."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from tests.conftest import ROOT

DOCKER = ROOT / "docker"
ALERTS = DOCKER / "prometheus" / "alerts.yml"
ALERT_TESTS = DOCKER / "prometheus" / "alerts.test.yml"
DASHBOARDS = sorted((DOCKER / "grafana" / "dashboards").glob("*.json"))
WEB, WORKER = "callwaiting-tts-web", "callwaiting-tts-worker"

# The synthesis metrics as #17 names them (callwaiting_tts/tts_metrics.py): family -> (type, the
# scrape job of the processes that export it). Counters without `_total`, as prometheus-client
# names their families.
CONTRACT: dict[str, tuple[str, str]] = {
    "cwtts_first_audio_seconds": ("histogram", WEB),
    "cwtts_syntheses": ("counter", WEB),
    "cwtts_audio_seconds": ("counter", WEB),
    "cwtts_active_streams": ("gauge", WEB),
    "cwtts_refused": ("counter", WEB),
    "cwtts_errors": ("counter", WEB),
    "cwtts_cancels": ("counter", WEB),
    "cwtts_cancel_to_last_frame_seconds": ("histogram", WEB),
    "cwtts_characters_billed": ("counter", WEB),
    "cwtts_workers_live": ("gauge", WEB),
    "cwtts_worker_slots": ("gauge", WEB),
    "cwtts_queue_depth": ("gauge", WEB),
    "cwtts_dependency_up": ("gauge", WEB),
    "cwtts_tenant_quota_used_ratio": ("gauge", WEB),
    "cwtts_phrase_cache_lookups": ("counter", WEB),
    "cwtts_phrase_cache_stored_bytes": ("counter", WEB),
    "cwtts_real_time_factor": ("histogram", WORKER),
    "cwtts_worker_active_jobs": ("gauge", WORKER),
    "cwtts_worker_capacity": ("gauge", WORKER),
    "cwtts_worker_heartbeats": ("counter", WORKER),
    "cwtts_queue_wait_seconds": ("histogram", WORKER),
    "cwtts_worker_jobs": ("counter", WORKER),
    "cwtts_engine_load_seconds": ("gauge", WORKER),
    "cwtts_gpu_memory_bytes": ("gauge", WORKER),
}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}
# What Grafana puts in place of its built-in variables when it queries.
GRAFANA_BUILT_INS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def require_promtool(which: Callable[[str], str | None] = shutil.which) -> str:
    """promtool's path; else a skip, or under CI=true a failure: CI must run these tests."""
    found = which("promtool")
    if found:
        return found
    why = "promtool is not installed: `apt-get install prometheus` (make test does, as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}; CI must run the alert tests")
    pytest.skip(why)


@pytest.fixture
def promtool() -> str:
    return require_promtool()


def run_promtool(
    tool: str, *args: str | Path, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    argv = [tool, *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def families(metrics: Iterable[object]) -> dict[str, str]:
    """family name -> type, of the prometheus-client metrics among `metrics`."""
    found = {}
    for metric in metrics:
        if isinstance(metric, MetricWrapperBase):
            for family in metric.describe():
                found[family.name] = family.type
    return found


def series_names(families: Mapping[str, str]) -> dict[str, str]:
    """Every series name the families expose -> its family."""
    return {
        name + suffix: name
        for name, kind in families.items()
        for suffix in SUFFIXES.get(kind, ("",))
    }


def django_prometheus_families() -> dict[str, str]:
    from django_prometheus.db import metrics as db_metrics
    from django_prometheus.middleware import Metrics

    return families([*vars(Metrics.get_instance()).values(), *vars(db_metrics).values()])


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (no `__name__` matchers in ours)."""
    assert "__name__" not in expr, expr
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)  # matchers, ranges, subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])[a-zA-Z_:][\w:]*", text):
        is_call = text[match.end() :].lstrip().startswith("(")
        if not is_call and match.group() not in PROMQL_WORDS:
            names.add(match.group())
    return names


def selector_jobs(expr: str) -> list[tuple[str, str]]:
    """(metric name, job) for each selector that names one job exactly."""
    return [
        (match.group(1), job.group(1))
        for match in re.finditer(r"([a-zA-Z_:][\w:]*)\{([^}]*)\}", expr)
        if (job := re.search(r'\bjob="([^"]+)"', match.group(2)))
    ]


def dashboard_queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """'panel title / refId' -> the expression as Prometheus receives it from Grafana."""
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    queries = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            name = f"{dashboard['uid']}: {panel['title']} / {target['refId']}"
            queries[name] = substitute(target["expr"], variables)
    return queries


def substitute(expr: str, variables: set[str]) -> str:
    """Grafana's variables filled in: built-ins by a duration, the dashboard's by "all" (.*)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in GRAFANA_BUILT_INS:
            return GRAFANA_BUILT_INS[name]
        assert name in variables, f"unknown variable ${name} in {expr}"
        return ".*"

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def promql_errors(tool: str, exprs: Mapping[str, str], folder: Path) -> str:
    """promtool's complaint about the expressions (each a recording rule), or '' if none."""
    rules = [{"record": f"check:expr_{i}", "expr": expr} for i, expr in enumerate(exprs.values())]
    path = folder / "exprs.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
    done = run_promtool(tool, "check", "rules", path)
    if done.returncode == 0:
        return ""
    names = "\n".join(f"check:expr_{i} = {name}" for i, name in enumerate(exprs))
    return f"{done.stdout}{done.stderr}\n{names}"


def all_exprs() -> dict[str, str]:
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules(load(ALERTS)["groups"])}
    for path in DASHBOARDS:
        exprs |= dashboard_queries(json.loads(path.read_text()))
    return exprs


def test_the_alert_rules_pass_promtool_check(promtool: str) -> None:
    done = run_promtool(promtool, "check", "rules", ALERTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules(load(ALERTS)['groups']))} rules found" in done.stdout


def test_the_compose_prometheus_config_is_valid_with_its_rules(
    promtool: str, tmp_path: Path
) -> None:
    # Paths as compose mounts them (compose.yaml's prometheus volumes and secret) made local.
    config = (DOCKER / "prometheus.yml").read_text()
    token = tmp_path / "metrics_token"
    token.write_text("a-token\n")
    config = config.replace("/etc/prometheus/alerts.yml", str(ALERTS))
    config = config.replace("/run/secrets/metrics_token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    done = run_promtool(promtool, "check", "config", tmp_path / "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say(promtool: str) -> None:
    done = run_promtool(promtool, "test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    cases = [case for test in load(ALERT_TESTS)["tests"] for case in test["alert_rule_test"]]
    fires = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    alerts = {rule["alert"] for rule in alert_rules(load(ALERTS)["groups"])}
    assert alerts - fires == set(), "alerts no unit test sees firing"
    assert alerts - quiet == set(), "alerts no unit test sees quiet"
    assert (fires | quiet) - alerts == set(), "unit tests of alerts that do not exist"


@pytest.mark.parametrize("alert", [rule["alert"] for rule in alert_rules(load(ALERTS)["groups"])])
def test_the_unit_tests_fail_when_an_alert_can_no_longer_fire(
    promtool: str, tmp_path: Path, alert: str
) -> None:
    # The unit tests hold each rule: one that never fires makes them fail, naming it.
    groups = load(ALERTS)["groups"]
    next(rule for rule in alert_rules(groups) if rule["alert"] == alert)["expr"] = "vector(1) < 0"
    (tmp_path / ALERTS.name).write_text(yaml.safe_dump({"groups": groups}))
    shutil.copy(ALERT_TESTS, tmp_path)
    done = run_promtool(promtool, "test", "rules", ALERT_TESTS.name, cwd=tmp_path)
    assert done.returncode != 0
    assert f"alertname: {alert}" in done.stdout + done.stderr


def test_every_alert_says_how_bad_and_what_happened() -> None:
    for rule in alert_rules(load(ALERTS)["groups"]):
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_the_kubernetes_rules_are_the_compose_rules() -> None:
    resource = load(DOCKER / "k8s" / "prometheusrule.yaml")
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"]["groups"] == load(ALERTS)["groups"], (
        "docker/k8s/prometheusrule.yaml's groups differ from docker/prometheus/alerts.yml's"
    )


def test_every_dashboard_expression_is_promql(promtool: str, tmp_path: Path) -> None:
    queries = {
        name: expr
        for path in DASHBOARDS
        for name, expr in dashboard_queries(json.loads(path.read_text())).items()
    }
    assert len(queries) > 30  # both dashboards, every panel
    assert promql_errors(promtool, queries, tmp_path) == ""


def test_the_expression_check_refuses_a_broken_expression(promtool: str, tmp_path: Path) -> None:
    broken = {"good": "sum(up)", "unclosed": "sum by (engine (rate(cwtts_syntheses_total[5m]))"}
    complaint = promql_errors(promtool, broken, tmp_path)
    assert "check:expr_1 = unclosed" in complaint
    assert "parse error" in complaint


def test_dashboards_and_alerts_read_only_series_the_service_exports() -> None:
    contract = {name: kind for name, (kind, _job) in CONTRACT.items()}
    known = {*series_names(contract), *series_names(django_prometheus_families()), "up"}
    unknown = {
        name: sorted(metric_names(expr) - known)
        for name, expr in all_exprs().items()
        if metric_names(expr) - known
    }
    assert unknown == {}
    variable_sources = {
        match.group(1)
        for path in DASHBOARDS
        for variable in json.loads(path.read_text())["templating"]["list"]
        if (match := re.match(r"label_values\((\w+),", variable["definition"]))
    }
    assert variable_sources <= known


def test_rules_select_each_metric_on_the_job_that_exports_it() -> None:
    jobs = {job["job_name"] for job in load(DOCKER / "prometheus.yml")["scrape_configs"]}
    exporter = {
        series: CONTRACT[family][1]
        for series, family in series_names({n: k for n, (k, _j) in CONTRACT.items()}).items()
    }
    pairs = [pair for expr in all_exprs().values() for pair in selector_jobs(expr)]
    assert pairs  # the rules do name jobs
    for metric, job in pairs:
        assert job in jobs, f"{metric}: no scrape job {job}"
        assert exporter.get(metric, job) == job, f"{metric} is exported by {exporter[metric]}"


def test_metric_names_finds_selectors_and_skips_functions_labels_and_clauses() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (engine, le) (rate(a_bucket{job="x", le="+Inf"}[5m])))'
        " > 0.5 and on (engine) sum without (instance) (increase(b_total[1h] offset 5m)) >= 1e3"
        ' or label_replace(c, "dst", "$1", "src", "(.*)") unless d{e="f"} * 2'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d"}


def test_the_contract_is_what_tts_metrics_defines() -> None:
    from callwaiting_tts import tts_metrics

    defined = families(vars(tts_metrics).values())
    assert {name: kind for name, (kind, _job) in CONTRACT.items()} == {
        name: kind for name, kind in defined.items() if name.startswith("cwtts_")
    }


def test_a_missing_promtool_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the alert tests"):
        require_promtool(which=lambda name: None)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="promtool is not installed"):
        require_promtool(which=lambda name: None)
