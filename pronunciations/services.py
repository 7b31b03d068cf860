"""Writes for a tenant's pronunciation dictionaries, each in the principal's schema, within the
plan's limits (billing.limits) and audited (tenants.audit)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from billing.limits import limits_for
from callwaiting_tts.errors import ApplicationError
from pronunciations.models import PronunciationDictionary
from pronunciations.pls import PlsError, read_pls
from pronunciations.selectors import dictionary_get, forget_default_dictionary
from synthesis.contract.languages import request_language
from synthesis.text.lexicon import Entry, entry_key
from tenants.audit import Actor, audit_record
from tenants.db import tenant_schema
from tenants.principal import Principal

logger = logging.getLogger(__name__)

# Starter lists a tenant may import by name (docs/pronunciations.md says how they were made).
STARTERS: dict[str, Path] = {
    "nigerian-names": Path(__file__).resolve().parent / "data" / "nigerian-names.pls",
}
_EDITABLE = ("name", "description", "language", "is_default", "entries")


def stored(entries: Sequence[Entry]) -> list[dict[str, str]]:
    """Entries as the JSON column holds them: `{word, alias}` or `{word, phonemes}`."""
    return [
        {"word": e.word, "alias": e.alias}
        if e.alias is not None
        else {"word": e.word, "phonemes": e.phonemes or ""}
        for e in entries
    ]


def check_entries(entries: Sequence[Entry], *, limit: int, param: str = "entries") -> None:
    """Refuses more entries than the plan allows in one dictionary (403) and a word twice (400,
    by `entry_key`: `Ngozi` and `ngozi` are one word, `US` and `us` two)."""
    if len(entries) > limit:
        raise ApplicationError(
            f"A dictionary holds at most {limit} entries on your plan; this one has "
            f"{len(entries)}.",
            code="too_many_entries",
            param=param,
            status=403,
        )
    seen: set[str] = set()
    for entry in entries:
        key = entry_key(entry.word)
        if key in seen:
            raise ApplicationError(
                f"The word {entry.word!r} is in the dictionary twice.",
                code="duplicate_word",
                param=param,
            )
        seen.add(key)


def dictionary_create(
    *,
    principal: Principal,
    by: Actor,
    name: str,
    language: str,
    entries: Sequence[Entry],
    description: str = "",
    is_default: bool = False,
    action: str = "pronunciation.create",
) -> PronunciationDictionary:
    limits = limits_for(principal.tenant_id)
    check_entries(entries, limit=limits.max_pronunciation_entries)
    try:
        with tenant_schema(principal.schema_name), transaction.atomic():
            _check_dictionary_limit(principal.schema_name, limits.max_pronunciation_dictionaries)
            if is_default:  # one default per tenant: the new one replaces the old
                PronunciationDictionary.objects.filter(is_default=True).update(is_default=False)
            dictionary = PronunciationDictionary.objects.create(
                name=name,
                language=language,
                description=description,
                entries=stored(entries),
                is_default=is_default,
            )
    except IntegrityError:
        raise _name_taken(name) from None
    if is_default:
        forget_default_dictionary(principal.schema_name)
    audit_record(
        by=by,
        action=action,
        tenant_id=principal.tenant_id,
        target=f"pronunciation:{dictionary.pk} {len(entries)} entries {name}",
    )
    logger.info("pronunciation dictionary created", extra={"dictionary_id": str(dictionary.pk)})
    return dictionary


def dictionary_import(
    *,
    principal: Principal,
    by: Actor,
    name: str,
    pls: str | None = None,
    starter: str | None = None,
    language: str | None = None,
    description: str = "",
    is_default: bool = False,
) -> PronunciationDictionary:
    """A new dictionary from a PLS document, or from one of the starter lists by name. Its
    language is `language`, else the document's `xml:lang`, else `en`."""
    if starter is not None:
        path = STARTERS.get(starter)
        if path is None:
            raise ApplicationError(
                f"Unknown starter list {starter!r}; there is: {', '.join(STARTERS)}.",
                code="invalid_choice",
                param="starter",
            )
        pls = path.read_text(encoding="utf-8")
    assert pls is not None
    limits = limits_for(principal.tenant_id)
    try:
        lexicon = read_pls(
            pls,
            max_bytes=settings.PRONUNCIATION_PLS_MAX_BYTES,
            max_entries=limits.max_pronunciation_entries,
        )
    except PlsError as error:
        status = 403 if error.code == "too_many_entries" else 413 if "large" in error.code else 400
        raise ApplicationError(error.message, code=error.code, param="pls", status=status) from None
    return dictionary_create(
        principal=principal,
        by=by,
        name=name,
        language=language or _listed(lexicon.language) or "en",
        entries=lexicon.entries,
        description=description,
        is_default=is_default,
        action="pronunciation.import",
    )


def _listed(tag: str | None) -> str | None:
    """A document's `xml:lang` as a listed language tag; None for one that is not listed."""
    try:
        return request_language(tag) if tag else None
    except ValueError:
        return None


def dictionary_update(
    *, principal: Principal, by: Actor, dictionary_id: str, **changes: object
) -> PronunciationDictionary:
    """Changes the tenant's dictionary (the fields of `_EDITABLE` given; `entries` replaces them
    all). Any change bumps its version."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    dictionary = dictionary_get(principal=principal, dictionary_id=dictionary_id)
    if "entries" in changes:
        entries = changes["entries"]
        assert isinstance(entries, list)
        check_entries(entries, limit=limits_for(principal.tenant_id).max_pronunciation_entries)
        changes["entries"] = stored(entries)
    changed = {k: v for k, v in changes.items() if getattr(dictionary, k) != v}
    if not changed:
        return dictionary
    try:
        with tenant_schema(principal.schema_name), transaction.atomic():
            locked = PronunciationDictionary.objects.select_for_update().get(pk=dictionary.pk)
            if changed.get("is_default"):
                PronunciationDictionary.objects.filter(is_default=True).update(is_default=False)
            for field, value in changed.items():
                setattr(locked, field, value)
            locked.version += 1
            locked.save()
    except IntegrityError:
        raise _name_taken(str(changes.get("name"))) from None
    if dictionary.is_default or locked.is_default:
        forget_default_dictionary(principal.schema_name)
    audit_record(
        by=by,
        action="pronunciation.update",
        tenant_id=principal.tenant_id,
        target=f"pronunciation:{locked.pk} v{locked.version} {','.join(sorted(changed))} "
        f"{locked.name}",
    )
    return locked


def dictionary_delete(*, principal: Principal, by: Actor, dictionary_id: str) -> None:
    dictionary = dictionary_get(principal=principal, dictionary_id=dictionary_id)
    stored_id = str(dictionary.pk)
    with tenant_schema(principal.schema_name):
        dictionary.delete()
    if dictionary.is_default:
        forget_default_dictionary(principal.schema_name)
    audit_record(
        by=by,
        action="pronunciation.delete",
        tenant_id=principal.tenant_id,
        target=f"pronunciation:{stored_id} {dictionary.name}",
    )
    logger.info("pronunciation dictionary deleted", extra={"dictionary_id": stored_id})


def _name_taken(name: str) -> ApplicationError:
    return ApplicationError(
        f"A pronunciation dictionary named {name!r} exists.",
        code="dictionary_exists",
        param="name",
        status=409,
    )


def _check_dictionary_limit(schema_name: str, limit: int) -> None:
    """In the creating transaction: a tenant's concurrent creations take turns on an advisory
    lock, so two cannot both pass a count that only one of them may fill."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"lexicon:{schema_name}"])
    if PronunciationDictionary.objects.count() >= limit:
        raise ApplicationError(
            f"Your plan allows {limit} pronunciation dictionar{'ies' if limit != 1 else 'y'}; "
            "delete one (DELETE /v1/pronunciations/{id}) or upgrade to add another.",
            code="dictionary_limit_reached",
            status=403,
        )
