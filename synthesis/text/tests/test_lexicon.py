"""Pronunciation dictionaries in the text front-end (`synthesis.text.lexicon`): whole words, the
case rule, overlaps, languages, billing, and the SSML-like spans they become. Pure: no Django."""

from __future__ import annotations

import unicodedata

import pytest

from synthesis.text.frontend import prepare
from synthesis.text.lexicon import (
    Dictionary,
    EntryError,
    Lexicon,
    clean_entry,
    entry_key,
)


def lexicon(*entries: tuple[str, str | None, str | None], language: str = "en") -> Lexicon:
    return Lexicon([Dictionary("d1", language, tuple(clean_entry(w, a, p) for w, a, p in entries))])


def spoken(text: str, lex: Lexicon | None, **kwargs: object) -> str:
    plan = prepare(text=text, lexicon=lex, **kwargs)  # type: ignore[arg-type]
    return " ".join(s.text for s in plan.segments)


NGOZI = ("Ngozi", "En-go-zee", None)


def test_it_says_an_alias_instead_of_the_word():
    assert spoken("Please hold for Ngozi.", lexicon(NGOZI)) == "Please hold for En-go-zee."
    assert spoken("Please hold for Ngozi.", None) == "Please hold for Ngozi."


def test_it_matches_whole_words_only():
    lex = lexicon(("Ade", "Ah-day", None))
    said = spoken("Adebayo and Ade's desk, not made.", lex)
    assert said == "Adebayo and Ah-day's desk, not made."


def test_a_word_in_lower_or_mixed_case_matches_any_case():
    assert spoken("NGOZI, ngozi and Ngozi.", lexicon(NGOZI)) == (
        "En-go-zee, En-go-zee and En-go-zee."
    )


def test_a_word_in_capitals_matches_only_capitals():
    lex = lexicon(("US", "you ess", None))
    assert spoken("The US office is near us.", lex) == "The you ess office is near us."
    assert entry_key("US") != entry_key("us")
    assert entry_key("Ngozi") == entry_key("ngozi") != entry_key("NGOZI")


def test_the_longest_entry_wins_and_spaces_inside_match_any_whitespace():
    lex = lexicon(("Port", "Pot", None), ("Port Harcourt", "Port Harkot", None))
    assert spoken("From Port  Harcourt to the port.", lex) == "From Port Harkot to the Pot."


def test_punctuation_inside_an_entry_is_matched_as_written():
    lex = lexicon(("Ado-Ekiti", "Ah-doh Eh-kee-tee", None))
    assert spoken("Ship to Ado-Ekiti or Ado Ekiti.", lex) == (
        "Ship to Ah-doh Eh-kee-tee or Ado Ekiti."
    )


def test_the_first_dictionary_named_wins_a_word_both_have():
    first = Dictionary("a", "en", (clean_entry("Tunde", "Toon-day", None),))
    second = Dictionary("b", "en", (clean_entry("tunde", "Tun", None),))
    assert spoken("Tunde.", Lexicon([first, second])) == "Toon-day."
    assert spoken("Tunde.", Lexicon([second, first])) == "Tun."


def test_a_regional_dictionary_applies_only_to_its_locale_a_primary_one_to_all():
    regional = lexicon(NGOZI, language="en-NG")
    assert spoken("Ngozi.", regional, locale="en-NG") == "En-go-zee."
    assert spoken("Ngozi.", regional, locale="en-US") == "Ngozi."
    primary = lexicon(NGOZI, language="en")
    assert spoken("Ngozi.", primary, locale="en-GB") == "En-go-zee."
    french = lexicon(NGOZI, language="fr")
    assert spoken("Ngozi.", french, locale="en-US") == "Ngozi."


def test_phonemes_become_ipa_parts_and_the_written_word_is_the_fallback():
    plan = prepare(text="Call Nnamdi now.", lexicon=lexicon(("Nnamdi", None, "nˈɑːmdi")))
    [segment] = plan.segments
    assert segment.parts == (("text", "Call"), ("ipa", "nˈɑːmdi"), ("text", "now."))
    assert segment.text == "Call Nnamdi now."  # what engines without phonemes read


def test_the_text_around_a_word_is_still_normalized_and_the_alias_is_not():
    lex = lexicon(("Femi", "Feh-mee 2", None))
    assert spoken("Femi owes $5.", lex) == "Feh-mee 2 owes five dollars."


def test_billing_counts_the_input_as_written_whatever_the_alias_length():
    text = "Ngozi called Ngozi about Nnamdi."
    lex = lexicon(("Ngozi", "A much longer alias than the name", None), ("Nnamdi", None, "nˈɑːm"))
    plan = prepare(text=text, lexicon=lex)
    assert plan.characters == len(text)
    assert sum(s.chars for s in plan.segments) == len(text)


def test_ssml_say_as_phoneme_and_sub_are_left_as_the_document_says():
    ssml = (
        "<speak>Ngozi <sub alias='Nee'>Ngozi</sub> <say-as interpret-as='characters'>Ngozi"
        "</say-as> <phoneme alphabet='ipa' ph='ŋɡozi'>Ngozi</phoneme></speak>"
    )
    plan = prepare(ssml=ssml, lexicon=lexicon(NGOZI))
    [segment] = plan.segments
    assert segment.text.startswith("En-go-zee Nee N G O Z I")
    assert ("ipa", "ŋɡozi") in segment.parts


def test_the_plan_names_the_dictionaries_it_was_read_with():
    assert prepare(text="Hi.", lexicon=lexicon(NGOZI)).dictionaries == ("d1",)
    assert prepare(text="Hi.").dictionaries == ()


def test_the_preview_source_shows_the_word_not_the_alias():
    [segment] = prepare(text="Ask Ngozi.", lexicon=lexicon(NGOZI)).segments
    assert "Ngozi" in segment.source
    assert "En-go-zee" not in segment.source


@pytest.mark.parametrize(
    ("word", "alias", "phonemes", "field"),
    [
        ("", "x", None, "word"),
        ("-Ngozi", "x", None, "word"),
        ("Ngozi!", "x", None, "word"),
        ("a " * 9 + "b", "x", None, "word"),
        ("Ngozi", None, None, "alias"),
        ("Ngozi", "x", "ŋ", "alias"),
        ("Ngozi", "  ", None, "alias"),
        ("Ngozi", "<break/>", None, "alias"),
        ("Ngozi", None, 'N"gozi', "phonemes"),  # X-SAMPA's stress mark
        ("Ngozi", None, "ŋɡo2zi", "phonemes"),
        ("Ngozi", None, "x" * 201, "phonemes"),
    ],
)
def test_an_entry_that_cannot_be_used_is_refused_naming_its_field(word, alias, phonemes, field):
    with pytest.raises(EntryError) as raised:
        clean_entry(word, alias, phonemes)
    assert raised.value.field == field


def test_entries_are_stored_clean():
    entry = clean_entry("  Port \t Harcourt ", "  Port   Harkot ", None)
    assert (entry.word, entry.alias) == ("Port Harcourt", "Port Harkot")
    decomposed = unicodedata.normalize("NFD", "Ọ̀ṣun")
    assert clean_entry(decomposed, None, "ɔ̀ʃũ").word == unicodedata.normalize("NFC", decomposed)


def test_text_and_entries_are_compared_in_nfc():
    composed = unicodedata.normalize("NFC", "Ọ̀ṣun")
    lex = lexicon((composed, "Aw-shoon", None))
    assert spoken(f"Visit {unicodedata.normalize('NFD', composed)} today.", lex) == (
        "Visit Aw-shoon today."
    )


def test_a_word_after_a_sentence_end_keeps_its_space_and_its_own_sentence():
    lex = lexicon(NGOZI, ("Oluwaseun", None, "oʊluːwɑːʃˈeɪuːn"))
    plan = prepare(text="Hi NGOZI! Oluwaseun, welcome.", lexicon=lex)
    assert [s.text for s in plan.segments] == ["Hi En-go-zee!", "Oluwaseun, welcome."]
    assert plan.segments[1].parts[0] == ("ipa", "oʊluːwɑːʃˈeɪuːn")
