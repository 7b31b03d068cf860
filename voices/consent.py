"""The consent statements an uploader attests to, versioned: a record names the version and
keeps the text it showed, so a later wording never rewrites what someone agreed to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsentStatement:
    version: str
    text: str  # what the uploader attests to
    sentence: str  # what the speaker reads aloud in an optional consent recording


STATEMENTS: dict[str, ConsentStatement] = {
    "2026-12-v1": ConsentStatement(
        version="2026-12-v1",
        text=(
            "I confirm that the person speaking in this recording has given their informed "
            "consent for their voice to be cloned and used to generate synthetic speech for "
            "my organisation, or that I am that person, and that I will not use the voice to "
            "deceive, impersonate or defraud anyone."
        ),
        sentence=(
            "I agree that my voice may be recorded and used to create a synthetic voice for "
            "this organisation's phone agents."
        ),
    ),
}
CURRENT = STATEMENTS["2026-12-v1"]
