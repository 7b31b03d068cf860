"""Every limit and penalty the reference-clip verdict uses, in one table.

The table is the contract between the analysis, the portal (which shows the messages) and
`docs/voice-quality.md` (a test checks that the doc's table says what this one says). A check
row takes `points` off the score when its limit is crossed; a blocking row fails the clip
whatever the score. Several rows may share a reason `code` (tiers of one problem): only the
worst tier that applies is reported, so one problem costs points once. Setting rows
(`kind="setting"`) are limits the analysis or the clean-up uses without raising a reason.

Calibrated on real speech (Piper's joe voice, espeak-ng as a second speaker) and synthetic
damage; the figures are in docs/voice-quality.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

# How a row's measured value is compared with its limit.
Direction = Literal["below", "above"]
Kind = Literal["check", "setting"]


@dataclass(frozen=True)
class Threshold:
    """One row: a check (raises reason `code` when the measure is `direction` the `limit`) or a
    setting. `message` is a `str.format` template with `{value}` (the measure) and `{limit}`;
    it is written for the tenant admin who recorded the clip, not for an engineer."""

    name: str  # unique row name
    kind: Kind
    measure: str  # the Report field compared ("" for a setting)
    direction: Direction
    limit: float
    unit: str
    points: int = 0
    blocking: bool = False
    code: str = ""  # the Reason code a check raises
    message: str = ""

    def crossed(self, value: float) -> bool:
        """Whether `value` is past this row's limit (strictly)."""
        return value < self.limit if self.direction == "below" else value > self.limit

    def describe(self, value: float) -> str:
        """The message for a measured `value`."""
        return self.message.format(value=value, limit=self.limit)


def _check(
    name: str,
    measure: str,
    direction: Direction,
    limit: float,
    unit: str,
    *,
    code: str,
    message: str,
    points: int = 0,
    blocking: bool = False,
) -> Threshold:
    return Threshold(
        name=name,
        kind="check",
        measure=measure,
        direction=direction,
        limit=limit,
        unit=unit,
        points=points,
        blocking=blocking,
        code=code,
        message=message,
    )


def _setting(name: str, limit: float, unit: str, message: str) -> Threshold:
    return Threshold(
        name=name, kind="setting", measure="", direction="below", limit=limit, unit=unit,
        message=message,
    )  # fmt: skip


_ROWS: tuple[Threshold, ...] = (
    # Speech at all: music, silence or noise alone cannot be cloned.
    _check(
        "no_speech",
        "speech_seconds",
        "below",
        0.5,
        "s",
        code="no_speech",
        blocking=True,
        message="We could not hear anyone speaking in this clip. Upload a recording of one "
        "person talking, without music.",
    ),
    # Speech duration: XTTS needs a few seconds to catch a voice; 10-30 s catches it well.
    _check(
        "too_short_blocking",
        "speech_seconds",
        "below",
        3.0,
        "s",
        code="too_short",
        blocking=True,
        message="The clip has only {value:.1f} s of speech; at least {limit:.0f} s is needed, "
        "and 10 to 30 s gives a closer voice. Record a longer clip.",
    ),
    _check(
        "too_short",
        "speech_seconds",
        "below",
        10.0,
        "s",
        code="too_short",
        points=15,
        message="The clip has {value:.1f} s of speech; 10 to 30 s gives a closer voice. Record "
        "a longer clip if you can.",
    ),
    _check(
        "too_long",
        "duration_seconds",
        "above",
        30.0,
        "s",
        code="too_long",
        points=5,
        message="The clip is {value:.0f} s long; only the first {limit:.0f} s of speech is "
        "used. Upload the best 10 to 30 s.",
    ),
    # How much of the clip is speech: long silences or background sounds around the talking.
    _check(
        "little_speech",
        "speech_ratio",
        "below",
        0.5,
        "",
        code="little_speech",
        points=10,
        message="Only {value:.0%} of the clip is speech. Cut the silence or other sounds "
        "before and after the talking.",
    ),
    _check(
        "long_pause",
        "longest_pause_seconds",
        "above",
        2.0,
        "s",
        code="long_pause",
        points=10,
        message="There is a {value:.1f} s pause between words; pauses over {limit:.0f} s make "
        "the cloned voice hesitate. Cut the pause or record again without it.",
    ),
    # Distortion: samples stuck at the loudest level the recording could hold.
    _check(
        "clipping_heavy",
        "clipping_ratio",
        "above",
        0.01,
        "",
        code="clipping",
        points=35,
        message="{value:.1%} of the clip is distorted because the recording was too loud "
        "(clipping). Record again with the microphone level lower.",
    ),
    _check(
        "clipping",
        "clipping_ratio",
        "above",
        0.001,
        "",
        code="clipping",
        points=15,
        message="Parts of the clip ({value:.2%}) are distorted because the recording was too "
        "loud (clipping). Record again with the microphone level a little lower.",
    ),
    # Noise: the clone copies hiss, hum and room noise along with the voice.
    _check(
        "noisy_heavy",
        "snr_db",
        "below",
        12.0,
        "dB",
        code="noisy",
        points=40,
        message="Background noise is almost as loud as the voice (speech is {value:.0f} dB "
        "above it). Record in a quiet room, close to the microphone.",
    ),
    _check(
        "noisy",
        "snr_db",
        "below",
        25.0,
        "dB",
        code="noisy",
        points=15,
        message="There is audible background noise (speech is {value:.0f} dB above it; "
        "{limit:.0f} dB or more is clean). Record in a quieter room.",
    ),
    _check(
        "noise_floor",
        "noise_floor_dbfs",
        "above",
        -40.0,
        "dBFS",
        code="noisy",
        points=5,
        message="The background between words is loud ({value:.0f} dBFS). Turn off fans or "
        "other noise near the microphone.",
    ),
    # Level: a very quiet recording is mostly the microphone's own noise once made louder.
    _check(
        "too_quiet",
        "loudness_lufs",
        "below",
        -35.0,
        "LUFS",
        code="too_quiet",
        points=10,
        message="The clip is very quiet ({value:.0f} LUFS). Speak closer to the microphone or "
        "raise its level.",
    ),
    _check(
        "too_loud",
        "loudness_lufs",
        "above",
        -8.0,
        "LUFS",
        code="too_loud",
        points=5,
        message="The clip is very loud ({value:.0f} LUFS) and likely distorted. Lower the "
        "microphone level.",
    ),
    # Recording bandwidth: telephone-quality audio clones a muffled voice.
    _check(
        "low_sample_rate",
        "sample_rate",
        "below",
        16000,
        "Hz",
        code="low_sample_rate",
        points=10,
        message="The clip was recorded at {value:.0f} Hz (telephone quality); {limit:.0f} Hz "
        "or more gives a clearer voice.",
    ),
    # Speakers: XTTS clones whoever talks; two voices make one blurred voice.
    _check(
        "more_than_one_speaker",
        "speaker_separation",
        "below",
        0.8,
        "cosine",
        code="more_than_one_speaker",
        blocking=True,
        message="We hear more than one person in this clip. Upload a recording of only the "
        "voice you want to clone.",
    ),
    # Settings: limits the analysis and the clean-up use.
    _setting(
        "min_speaker_group",
        0.2,
        "",
        "The smaller group of speech windows must hold at least this share (and 2 windows) "
        "for a second speaker to be suspected.",
    ),
    _setting("max_reference_seconds", 30.0, "s", "The clean-up keeps at most this much audio."),
    _setting("min_quality_score", 40, "points", "A clip scoring below this is not usable."),
    _setting("target_lufs", -23.0, "LUFS", "The clean reference's integrated loudness."),
    _setting(
        "peak_ceiling_dbfs", -1.0, "dBFS", "The clean reference's true peak stays under this."
    ),
    # Measured: joe against joe reading other sentences 0.965; joe against espeak-ng 0.59.
    _setting(
        "consent_min_similarity",
        0.75,
        "cosine",
        "A consent recording must sound at least this much like the clip's speaker (speaker "
        "embedding cosine), or the voice fails.",
    ),
)

THRESHOLDS: Mapping[str, Threshold] = MappingProxyType({row.name: row for row in _ROWS})
if len(THRESHOLDS) != len(_ROWS):  # pragma: no cover - a typo in the table
    raise RuntimeError("THRESHOLDS has two rows with one name")

CHECKS: tuple[Threshold, ...] = tuple(row for row in _ROWS if row.kind == "check")
MIN_QUALITY_SCORE = int(THRESHOLDS["min_quality_score"].limit)
TARGET_LUFS = THRESHOLDS["target_lufs"].limit
PEAK_CEILING_DBFS = THRESHOLDS["peak_ceiling_dbfs"].limit
MAX_REFERENCE_SECONDS = THRESHOLDS["max_reference_seconds"].limit
MIN_SPEAKER_GROUP = THRESHOLDS["min_speaker_group"].limit
SPEAKER_CUT = THRESHOLDS["more_than_one_speaker"].limit
CONSENT_MIN_SIMILARITY = THRESHOLDS["consent_min_similarity"].limit


def _limit_text(row: Threshold) -> str:
    return f"{row.limit:g} {row.unit}".rstrip()


def _message_text(row: Threshold) -> str:
    """The message with its limit filled in and the measured value shown as *N*."""
    text = re.sub(r"\{value:[^}]*%\}", "*N* %", row.message)
    text = re.sub(r"\{value[^}]*\}", "*N*", text)
    return re.sub(
        r"\{limit(:[^}]*)?\}", lambda m: format(row.limit, (m.group(1) or ":g")[1:]), text
    )


def markdown_table() -> str:
    """The checks and settings as the Markdown tables of docs/voice-quality.md (a test keeps the
    doc equal to this)."""
    lines = [
        "| Check | Reason code | Fails when | Points | Blocking | Message shown |",
        "|---|---|---|---|---|---|",
    ]
    for row in CHECKS:
        sign = "<" if row.direction == "below" else ">"
        lines.append(
            f"| `{row.name}` | `{row.code}` | {row.measure} {sign} {_limit_text(row)} | "
            f"{row.points} | {'yes' if row.blocking else 'no'} | {_message_text(row)} |"
        )
    lines += ["", "| Setting | Value | Meaning |", "|---|---|---|"]
    for row in _ROWS:
        if row.kind == "setting":
            lines.append(f"| `{row.name}` | {_limit_text(row)} | {row.message} |")
    return "\n".join(lines) + "\n"
