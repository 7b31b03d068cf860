"""`heard`: call sentences (codes, telephone numbers, 24/7, times, hours, e-mail, money) spoken
by Piper's joe and written down again by an offline recogniser (pocketsphinx, whose wheel ships
its en-US acoustic model, language model and dictionary), before and after "reading for calls".

A recogniser cannot tell the two readings of a code apart by its digits: Whisper-style models
write "482913" for "four eight two nine one three" and for "four hundred eighty two thousand…"
alike. So nothing here is compared as digits:

- **word error rate**: pocketsphinx's vocabulary is its dictionary's words, so it writes what it
  heard as words ("four eight two nine one three" or "four hundred eighty two thousand nine
  hundred and thirteen"); that is scored against a spoken-form reference written by hand (what a
  caller should hear). `words()` puts both in one orthography; a token with a digit in it (a
  recogniser that writes digits) is kept as it is and matches no reference word, so digits can
  never make two readings look alike: they cost errors instead;
- **forced choice**: the decoder searches a grammar that allows exactly two sentences, the
  reference and the other reading (the words the old front-end made the engine say: the
  cardinal of a code, "twenty four sevenths", "eighteen forty five"), and says which one the
  audio is. The two readings are told apart when the new audio is heard as the reference and
  the old audio as the other reading.

"Before" is the front-end of commit 458e21f (main just before the calls16 merge): its engine
segments for each sentence were produced once with that commit's `prepare()` and are kept in
`CASES` (the `before` field, segments joined by " | "), then spoken by today's engine. "After"
is today's `prepare()` + `engine_segments`, as the service runs them.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.report import INFO, Row, verdict
from bench.stack import log

if TYPE_CHECKING:
    from pocketsphinx import Decoder

    from bench.base import Bench
    from synthesis.engines.piper import PiperEngine

RECOGNISER_RATE = 16000  # pocketsphinx's en-US acoustic model
_GRAMMAR = "heard_choice"


@dataclass(frozen=True)
class Case:
    category: str
    locale: str
    text: str  # what the tenant sends
    reference: str  # what a caller should hear, written by hand
    before: str  # the old front-end's engine segments (commit 458e21f), joined by " | "
    other: str | None  # the old reading in words, by hand; None where it says the reference


# fmt: off
CASES: tuple[Case, ...] = (
    Case("code", "en-US", "Your verification code is 482913.",
         "your verification code is four eight two nine one three",
         "Your verification code is four hundred eighty two thousand nine hundred and thirteen.",
         "your verification code is four hundred eighty two thousand nine hundred and thirteen"),
    Case("code", "en-US", "Your PIN is 4071.",
         "your pin is four zero seven one",
         "Your PIN is four thousand and seventy one.",
         "your pin is four thousand and seventy one"),
    Case("code", "en-US", "The card ending in 4242 will be charged.",
         "the card ending in four two four two will be charged",
         "The card ending in four thousand two hundred and forty two will be charged.",
         "the card ending in four thousand two hundred and forty two will be charged"),
    Case("code", "en-GB", "Your one-time code is 739105.",
         "your one time code is seven three nine one zero five",
         "Your one-time code is seven hundred thirty nine thousand one hundred and five.",
         "your one time code is seven hundred thirty nine thousand one hundred and five"),
    Case("code", "en-NG", "Your OTP is 55821.",
         "your o t p is five five eight two one",
         "Your OTP is fifty five thousand eight hundred and twenty one.",
         "your o t p is fifty five thousand eight hundred and twenty one"),
    Case("code", "en-GB", "Your booking reference is XK42P9.",
         "your booking reference is x k four two p nine",
         "Your booking reference is XK forty two P nine.",
         "your booking reference is x k forty two p nine"),
    Case("code", "en-US", "Your order number is 1234.",
         "your order number is one two three four",
         "Your order number is twelve thirty four.",
         "your order number is twelve thirty four"),
    Case("code", "en-NG", "Please quote account number 0123456789.",
         "please quote account number zero one two three four five six seven eight nine",
         "Please quote account number zero one two three four five six seven eight nine.",
         None),
    Case("phone", "en-GB", "Call us on 020 7946 0958.",
         "call us on zero two zero seven nine four six zero nine five eight",
         "Call us on zero two zero seven thousand nine hundred and forty six zero nine five "
         "eight.",
         "call us on zero two zero seven thousand nine hundred and forty six zero nine five "
         "eight"),
    Case("phone", "en-GB", "Ring 0161 496 0123 for the branch.",
         "ring zero one six one four nine six zero one two three for the branch",
         "Ring zero one six one four hundred and ninety six zero one two three for the branch.",
         "ring zero one six one four hundred and ninety six zero one two three for the branch"),
    Case("phone", "en-GB", "You can reach me on 07700 900123.",
         "you can reach me on zero seven seven zero zero nine zero zero one two three",
         "You can reach me on zero seven seven zero zero nine hundred thousand one hundred and "
         "twenty three.",
         "you can reach me on zero seven seven zero zero nine hundred thousand one hundred and "
         "twenty three"),
    Case("phone", "en-NG", "Please call 0803-123-4567 today.",
         "please call zero eight zero three one two three four five six seven today",
         "Please call zero eight zero three, | one two three, four five six seven today.",
         None),
    Case("phone", "en-US", "Call (415) 555-0100 anytime.",
         "call four one five five five five zero one zero zero anytime",
         "Call four one five, | five five five, zero one zero zero anytime.",
         None),
    Case("phone", "en-US", "Our toll-free line is 1-800-555-0199.",
         "our toll free line is one eight hundred five five five zero one nine nine",
         "Our toll-free line is one-eight hundred-five hundred and fifty five-zero one nine "
         "nine.",
         "our toll free line is one eight hundred five hundred and fifty five zero one nine "
         "nine"),
    Case("phone", "en-NG", "Dial +234 803 123 4567 from abroad.",
         "dial plus two three four eight zero three one two three four five six seven from "
         "abroad",
         "Dial plus two three four, | eight zero three, one two three, four five six seven from "
         "abroad.",
         None),
    Case("phone", "en-US", "Text STOP to 88440.",
         "text stop to eight eight four four zero",
         "Text STOP to eighty eight thousand four hundred and forty.",
         "text stop to eighty eight thousand four hundred and forty"),
    Case("phone", "en-GB", "In an emergency, dial 999.",
         "in an emergency dial nine nine nine",
         "In an emergency, | dial nine hundred and ninety nine.",
         "in an emergency dial nine hundred and ninety nine"),
    Case("keypad", "en-NG", "Dial *901*1# to check your balance.",
         "dial star nine zero one star one hash to check your balance",
         "Dial asterisk nine hundred and one times one hash to check your balance.",
         "dial asterisk nine hundred and one times one hash to check your balance"),
    Case("24/7, x", "en-US", "Our support line is open 24/7.",
         "our support line is open twenty four seven",
         "Our support line is open twenty four sevenths.",
         "our support line is open twenty four sevenths"),
    Case("24/7, x", "en-US", "Take it 3x a day.",
         "take it three times a day",
         "Take it three x a day.",
         "take it three x a day"),
    Case("time", "en-GB", "Your appointment is at 18:45.",
         "your appointment is at six forty five p m",
         "Your appointment is at eighteen forty five.",
         "your appointment is at eighteen forty five"),
    Case("time", "en-GB", "The office closes at 17:30 on Fridays.",
         "the office closes at five thirty p m on fridays",
         "The office closes at seventeen thirty on Fridays.",
         "the office closes at seventeen thirty on fridays"),
    Case("time", "en-GB", "The train departs at 09:30.",
         "the train departs at nine thirty a m",
         "The train departs at nine thirty.",
         "the train departs at nine thirty"),
    Case("hours", "en-US", "We are open 9-5, Mon\u2013Fri.",
         "we are open nine to five monday to friday",
         "We are open nine-five, | Monday to Friday.",
         "we are open nine five monday to friday"),
    Case("hours", "en-GB", "The shop is open 9:00-17:00.",
         "the shop is open nine a m to five p m",
         "The shop is open nine o'clock to seventeen o'clock.",
         "the shop is open nine o'clock to seventeen o'clock"),
    Case("e-mail, web", "en-US", "Email help@example.com for a refund.",
         "email help at example dot com for a refund",
         "Email help at example dot com for a refund.",
         None),
    Case("e-mail, web", "en-US", "Visit www.example.com/help for details.",
         "visit w w w dot example dot com slash help for details",
         "Visit WWW dot example dot com slash help for details.",
         None),
    Case("money", "en-GB", "The fee is 50p per text.",
         "the fee is fifty pence per text",
         "The fee is fifty p per text.",
         "the fee is fifty p per text"),
    Case("money", "en-NG", "You will pay N 5,000 for delivery.",
         "you will pay five thousand naira for delivery",
         "You will pay N five thousand for delivery.",
         "you will pay n five thousand for delivery"),
    Case("money", "en-NG", "It costs 5k naira to renew.",
         "it costs five thousand naira to renew",
         "It costs five k naira to renew.",
         "it costs five k naira to renew"),
    Case("money", "en-US", "Your balance is $1,250.75.",
         "your balance is one thousand two hundred and fifty dollars seventy five cents",
         "Your balance is one thousand two hundred and fifty dollars seventy five cents.",
         None),
)
# fmt: on

# One orthography for the references, the recogniser and the front-ends' text: the dictionary
# writes some letter names as one word ("pm"), the texts write capitals ("OTP", the old "XK"),
# the references spell them.
_SPELLED = {"pm": "p m", "am": "a m", "otp": "o t p", "www": "w w w", "xk": "x k"}
_NOT_WORD = re.compile(r"[^\w' ]+")
_FILLER = re.compile(r"^(<.*>|\[.*\])$")


def words(text: str) -> list[str]:
    """`text` as comparable words: lower case, hyphens and slashes as spaces, punctuation
    dropped, the recogniser's alternate-pronunciation marks (`word(2)`) and fillers (`<sil>`,
    `[noise]`) removed, letter names spelled. Digits are left as they are (see the module's
    docstring): "482913" stays one token, equal to no spoken word."""
    kept = " ".join(w for w in text.lower().split() if not _FILLER.match(w))
    kept = re.sub(r"\(\d+\)", "", kept)
    kept = _NOT_WORD.sub(" ", kept.replace("-", " ").replace("/", " ").replace(".", " "))
    return [letter for word in kept.split() for letter in _SPELLED.get(word, word).split()]


def edit_distance(heard: Sequence[str], reference: Sequence[str]) -> int:
    """Substitutions, insertions and deletions from `reference` to `heard` (Levenshtein)."""
    row = list(range(len(reference) + 1))
    for i, word in enumerate(heard, start=1):
        diagonal, row[0] = row[0], i
        for j, expected in enumerate(reference, start=1):
            diagonal, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, diagonal + (word != expected)),
            )
    return row[-1]


def error_rate(heard: str, reference: str) -> float:
    """Word error rate of `heard` against `reference`, both through `words()`."""
    expected = words(reference)
    return edit_distance(words(heard), expected) / max(1, len(expected))


class Listener:
    """pocketsphinx with the model its wheel ships: open-vocabulary transcription with its
    language model, and a forced choice between candidate sentences with a grammar."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder: Decoder = Decoder(samprate=RECOGNISER_RATE, loglevel="FATAL")
        self._open = self._decoder.current_search()

    def _decode(self, pcm: bytes) -> str:
        decoder = self._decoder
        # The feature front-end adapts its cepstral mean from one utterance to the next, so the
        # same audio was heard differently after different sentences: reset it every time.
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""

    def hear(self, pcm: bytes) -> str:
        """What the recogniser writes down for `pcm` (s16le mono at RECOGNISER_RATE)."""
        self._decoder.activate_search(self._open)
        return self._decode(pcm)

    def missing_words(self, texts: Sequence[str]) -> list[str]:
        """The words of `texts` that the dictionary lacks (a grammar cannot hold them)."""
        found = {w for text in texts for w in words(text)}
        return sorted(w for w in found if self._decoder.lookup_word(w) is None)

    def choose(self, pcm: bytes, candidates: Sequence[str]) -> int | None:
        """Which of `candidates` (spoken forms) the audio is, by the decoder's best path through
        a grammar that allows only them; None when it reaches none of them."""
        sentences = [" ".join(words(c)) for c in candidates]
        missing = self.missing_words(sentences)
        if missing:
            raise ValueError(f"not in the recogniser's dictionary: {missing}")
        rule = " | ".join(f"( {s} )" for s in sentences)
        grammar = f"#JSGF V1.0;\ngrammar heard;\npublic <s> = {rule};\n"
        self._decoder.add_jsgf_string(_GRAMMAR, grammar)
        self._decoder.activate_search(_GRAMMAR)
        try:
            heard = " ".join(words(self._decode(pcm)))
        finally:
            self._decoder.activate_search(self._open)
            self._decoder.remove_search(_GRAMMAR)
        return sentences.index(heard) if heard in sentences else None


@functools.cache
def engine() -> PiperEngine:
    """Joe with zero noise, as the tests run him: the same audio on every run."""
    from synthesis.engines.piper import PiperEngine

    return PiperEngine(noise_scale=0.0, noise_w_scale=0.0)


def _for_recogniser(pcm: bytes, rate: int) -> bytes:
    import numpy as np
    import soxr

    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    resampled = soxr.resample(audio, rate, RECOGNISER_RATE)
    return (np.clip(resampled, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def speak_after(text: str, locale: str) -> bytes:
    """Today's front-end and joe, as the service speaks `text`: PCM at RECOGNISER_RATE."""
    from synthesis.contract.plan import engine_segments
    from synthesis.text.frontend import prepare

    segments = engine_segments(prepare(text=text, locale=locale), language="en")
    pcm = b"".join(chunk.pcm for chunk in engine().stream(segments, voice="joe"))
    return _for_recogniser(pcm, engine().sample_rate)


def speak_segments(before: str) -> bytes:
    """Engine segments as written (" | " between them), spoken by joe: the old front-end's
    output, with no front-end of today in between."""
    from synthesis.contract.segments import Segment

    segments = [Segment(text=part.strip()) for part in before.split("|")]
    pcm = b"".join(chunk.pcm for chunk in engine().stream(segments, voice="joe"))
    return _for_recogniser(pcm, engine().sample_rate)


@dataclass
class Heard:
    case: Case
    after_heard: str
    before_heard: str
    after_wer: float
    before_wer: float
    after_choice: int | None  # 0: the reference, 1: the other reading (None: no other)
    before_choice: int | None

    @property
    def told_apart(self) -> bool:
        return self.after_choice == 0 and self.before_choice == 1


def listen(listener: Listener, case: Case) -> Heard:
    after, before = speak_after(case.text, case.locale), speak_segments(case.before)
    after_heard, before_heard = listener.hear(after), listener.hear(before)
    candidates = (case.reference, case.other) if case.other else None
    return Heard(
        case=case,
        after_heard=after_heard,
        before_heard=before_heard,
        after_wer=error_rate(after_heard, case.reference),
        before_wer=error_rate(before_heard, case.reference),
        after_choice=listener.choose(after, candidates) if candidates else None,
        before_choice=listener.choose(before, candidates) if candidates else None,
    )


def _pooled(results: Sequence[Heard], side: str) -> float:
    """Errors over reference words, pooled over sentences (not a mean of rates)."""
    errors = sum(getattr(r, f"{side}_wer") * len(words(r.case.reference)) for r in results)
    return 100 * errors / sum(len(words(r.case.reference)) for r in results)


def _wer_row(label: str, results: Sequence[Heard]) -> Row:
    after, before = _pooled(results, "after"), _pooled(results, "before")
    changed = any(r.case.other for r in results)
    return Row(
        "heard",
        label,
        after,
        before,
        "before",
        "%",
        after / before if before else None,
        target="after < before" if changed else "",
        verdict=verdict(after < before) if changed else INFO,
        note="" if changed else "the same words before and after: a control",
    )


def rows(results: Sequence[Heard]) -> list[Row]:
    out = [_wer_row("heard: word error rate, all sentences", results)]
    for category in dict.fromkeys(r.case.category for r in results):
        sentences = [r for r in results if r.case.category == category]
        out.append(_wer_row(f"heard: WER, {category}", sentences))
    chosen = [r for r in results if r.case.other]
    as_reference_after = sum(r.after_choice == 0 for r in chosen)
    as_reference_before = sum(r.before_choice == 0 for r in chosen)
    told = sum(r.told_apart for r in chosen)
    out.append(
        Row(
            "heard",
            "heard: forced choice, heard as the reference",
            as_reference_after,
            as_reference_before,
            "before",
            "runs",
            None,
            target="after > before",
            verdict=verdict(as_reference_after > as_reference_before),
            note=f"of {len(chosen)} sentences whose old reading says other words",
        )
    )
    out.append(
        Row(
            "heard",
            "heard: forced choice, readings told apart",
            told,
            len(chosen),
            "sentences",
            "runs",
            told / len(chosen) if chosen else None,
            target="all",
            verdict=verdict(told == len(chosen)),
            note="new audio heard as the reference and old audio as the old reading",
        )
    )
    return out


def details(results: Sequence[Heard]) -> list[dict[str, Any]]:
    return [
        {
            "category": r.case.category,
            "locale": r.case.locale,
            "text": r.case.text,
            "reference": r.case.reference,
            "other": r.case.other,
            "after_heard": r.after_heard,
            "before_heard": r.before_heard,
            "after_wer": round(r.after_wer, 3),
            "before_wer": round(r.before_wer, 3),
            "after_choice": r.after_choice,
            "before_choice": r.before_choice,
        }
        for r in results
    ]


def measure_heard(bench: Bench) -> None:
    """In the bench process, on no part of the stack: the front-end and the engine are what is
    measured, the recogniser is the listener."""
    started = time.monotonic()
    listener = Listener()
    results = []
    for index, case in enumerate(CASES, start=1):
        results.append(listen(listener, case))
        log(f"heard: {index}/{len(CASES)} {case.text}")
    bench.rows.extend(rows(results))
    bench.details["heard"] = {
        "recogniser": "pocketsphinx en-US (the model its wheel ships)",
        "before": "commit 458e21f's front-end, its engine segments kept in bench/heard.py",
        "seconds": round(time.monotonic() - started, 1),
        "sentences": details(results),
    }
