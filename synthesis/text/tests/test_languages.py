"""Languages other than English: left as written for the engine (XTTS reads numbers itself in
its languages), split at their own punctuation, and tagged with their own language."""

from __future__ import annotations

import pytest

from synthesis.text.frontend import prepare
from synthesis.text.model import locale_for
from synthesis.text.normalize import normalize
from synthesis.text.normalize.core import normalizes
from synthesis.text.split import Unit, sentence_ends, split_text, split_units


def texts(plan_or_pieces):
    pieces = getattr(plan_or_pieces, "segments", plan_or_pieces)
    return [p.text for p in pieces]


# ------------------------------------------------------------------------------ locales


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("fr", "fr"),
        ("fr-fr", "fr-FR"),
        ("DE_de", "de-DE"),
        ("zh-CN", "zh-CN"),
        ("zh-cn", "zh-CN"),
        ("ZH-HANS-cn", "zh-Hans-CN"),
        ("es-419", "es-419"),
        ("JA", "ja"),
        ("hi-IN", "hi-IN"),
    ],
)
def test_it_gives_another_language_its_own_tag_in_canonical_case(tag, locale):
    assert locale_for(tag) == locale
    assert not normalizes(locale)


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("en", "en-US"),
        ("en-us", "en-US"),
        ("en_GB", "en-GB"),
        ("EN-ng", "en-NG"),
        ("en-AU", "en-GB"),
        ("en-IN", "en-GB"),
        ("en-CA", "en-US"),
    ],
)
def test_english_tags_keep_their_locales(tag, locale):
    assert locale_for(tag) == locale
    assert normalizes(locale)


def test_plain_english_inside_another_language_reads_like_en_us():
    # The request's default is French: an English span still gets an English locale.
    assert locale_for("en", default="fr-FR") == "en-US"
    assert locale_for("en-CA", default="fr-FR") == "en-US"
    assert locale_for("en", default="en-GB") == "en-GB"
    assert locale_for(None, default="fr-FR") == "fr-FR"


# ---------------------------------------------------------------------- left as written


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("fr-FR", "Il habite au 12 rue de la Paix depuis le 3/4/2025 et paie 1 250,50 €."),
        ("de-DE", "Am 3. Mai 2025 kostet es 12,50 € bei Dr. Müller, Hauptstr. 7."),
        ("es", "El Dr. García pagó $2,500 el 3/4/2025 a las 10:30 — 15% más."),
        ("zh-CN", "我在2025年3月4日花了12.5元。"),
        ("ja", "会議は10時30分から3階で、参加費は1,000円です。"),
        ("hi", "मेरे पास 12 किताबें हैं और 3.5 किलो चावल है।"),
        ("ar", "لدي 12 كتابا و 3 أقلام."),
        ("ru-RU", "В 2025 году 12 + 3 = 15 и 50% скидка."),
    ],
)
def test_it_leaves_other_languages_as_written(locale, text):
    assert normalize(text, locale) == text
    plan = prepare(text=text, locale=locale)
    assert " ".join(texts(plan)) == text
    assert {s.language for s in plan.segments} == {locale}
    assert any(ch.isdigit() for ch in "".join(texts(plan)))


def test_it_still_cleans_quotes_and_spaces_in_other_languages():
    assert normalize("  Il a dit ``12''   fois `oui'.  ", "fr-FR") == "Il a dit \"12\" fois 'oui'."


@pytest.mark.parametrize("locale", ["en-US", "en-GB", "en-NG", "en"])
def test_english_is_still_normalized(locale):
    assert normalize("Dr. Ade paid $12 on 12 Main St.", locale).startswith("Doctor Ade paid twelve")
    assert normalize("₦2,500.50", "en-NG") == "two thousand five hundred naira and fifty kobo"
    assert normalize("3/4/2025", "en-US") == "March fourth twenty twenty five"
    assert normalize("3/4/2025", "en-GB") == "the third of April twenty twenty five"


def test_a_french_request_is_not_read_in_english():
    plan = prepare(text="12 rue de la Paix", locale=locale_for("fr-FR"))
    assert texts(plan) == ["12 rue de la Paix"]
    assert plan.segments[0].language == "fr-FR"
    assert plan.segments[0].chars == len("12 rue de la Paix")


# ------------------------------------------------------------------------------ splitting


def test_cjk_sentences_end_at_their_own_punctuation_without_spaces():
    text = "今天天气很好。我们去公园散步吧！你觉得怎么样？好的。"
    assert sentence_ends(text) == [7, 16, 23]
    assert texts(split_units([Unit(text, len(text))])) == [
        "今天天气很好。",
        "我们去公园散步吧！",
        "你觉得怎么样？",
        "好的。",
    ]


def test_a_closing_bracket_stays_with_its_sentence():
    text = "彼は「行きます。」と言った。"
    assert texts(split_units([Unit(text, len(text))])) == ["彼は「行きます。」", "と言った。"]


def test_the_danda_and_the_arabic_question_mark_end_sentences():
    hindi = "आज मौसम अच्छा है। हम पार्क चलें। ठीक है?"
    assert texts(split_units([Unit(hindi, len(hindi))])) == [
        "आज मौसम अच्छा है।",
        "हम पार्क चलें।",
        "ठीक है?",
    ]
    arabic = "كيف حالك؟ أنا بخير."
    assert texts(split_units([Unit(arabic, len(arabic))])) == ["كيف حالك؟", "أنا بخير."]


def test_a_sentence_may_start_with_an_accented_or_cyrillic_capital():
    french = "Il a payé 3,50 €. Ça coûte cher. Élodie paie."
    assert texts(split_units([Unit(french, len(french))])) == [
        "Il a payé 3,50 €.",
        "Ça coûte cher.",
        "Élodie paie.",
    ]
    russian = "Привет. Как дела? Хорошо."
    assert texts(split_units([Unit(russian, len(russian))])) == ["Привет.", "Как дела?", "Хорошо."]
    spanish = "Hola. ¿Qué tal? Bien."
    assert texts(split_units([Unit(spanish, len(spanish))])) == ["Hola.", "¿Qué tal?", "Bien."]


def test_a_lower_case_word_after_a_period_still_ends_nothing():
    assert sentence_ends("Il habite au no. douze. Voilà.") == [len("Il habite au no. douze.")]


CHINESE = "我们今天下午三点钟在北京大学的图书馆门口见面然后一起去吃饭再去看电影最后回家休息"
JAPANESE = "コーヒーを飲みながら東京タワーを見に行きましょうそしてショッピングに行きたいです"
HINDI = "आज सुबह हम सब लोग मिलकर बाजार गए और वहाँ से बहुत सारी सब्जियाँ फल और मिठाइयाँ खरीदीं"


@pytest.mark.parametrize(
    ("text", "max_chars"),
    [
        (CHINESE * 3, 82),
        (CHINESE * 3, 20),
        (CHINESE, 7),
        (JAPANESE * 3, 71),
        (JAPANESE * 2, 15),
        ("韩" * 10 + " " + CHINESE * 2, 30),
        (HINDI * 3, 60),
        (HINDI, 25),
    ],
)
def test_a_long_sentence_without_breaks_is_cut_under_the_limit(text, max_chars):
    for first in (True, False):
        pieces = split_units([Unit(text, len(text))], max_chars=max_chars, first=first)
        assert len(pieces) > 1
        assert all(0 < len(p.text) <= max_chars for p in pieces), texts(pieces)
        assert "".join("".join(texts(pieces)).split()) == "".join(text.split())
        assert sum(p.chars for p in pieces) == len(text)


def test_text_without_spaces_is_cut_at_the_limit_and_not_at_an_early_space():
    text = "你好 " + CHINESE
    pieces = split_text(text, max_chars=20)
    assert texts(pieces)[0] == "你好 " + CHINESE[:17]
    assert all(len(p) <= 20 for p in texts(pieces))


def test_japanese_is_not_cut_before_a_long_vowel_mark_or_a_small_kana():
    text = "ア" * 9 + "ーッ" + "ア" * 20
    pieces = texts(split_units([Unit(text, len(text))], max_chars=10))
    assert pieces[0] == "ア" * 8
    assert pieces[1].startswith("アーッ")
    assert all(len(p) <= 10 for p in pieces)


def test_cjk_clause_marks_are_preferred_cuts():
    text = "我们今天下午三点钟见面，然后一起去吃饭，再去看电影，最后回家休息。"
    assert texts(split_units([Unit(text, len(text))], max_chars=16)) == [
        "我们今天下午三点钟见面，",
        "然后一起去吃饭，再去看电影，",
        "最后回家休息。",
    ]


def test_hindi_is_never_cut_off_its_vowel_sign():
    word = "कि" * 30  # consonant + vowel sign, no space anywhere
    pieces = texts(split_units([Unit(word, len(word))], max_chars=9))
    assert all(len(p) <= 9 for p in pieces)
    assert all(p[0] == "क" for p in pieces)
    assert "".join(pieces) == word


def test_a_number_written_with_spaces_is_not_cut():
    text = "Il a gagné exactement 1 250 000 euros hier soir"
    pieces = texts(split_units([Unit(text, len(text))], max_chars=31))
    assert pieces == ["Il a gagné exactement", "1 250 000 euros hier soir"]


def test_a_per_language_limit_cuts_each_run_under_its_own():
    limits = {"zh": 10, "en": 200}
    plan = prepare(
        ssml=f'<speak xml:lang="en-US">Hello there, how are you today my friend? '
        f'<lang xml:lang="zh-CN">{CHINESE}</lang></speak>',
        max_chars=lambda locale: limits[locale.split("-")[0]],
    )
    english = [s for s in plan.segments if s.language == "en-US"]
    chinese = [s for s in plan.segments if s.language == "zh-CN"]
    assert " ".join(texts(english)) == "Hello there, how are you today my friend?"
    assert "".join(texts(chinese)) == CHINESE
    assert all(len(s.text) <= 10 for s in chinese)
    assert sum(s.chars for s in plan.segments) == plan.characters


# -------------------------------------------------------------------------- SSML xml:lang


def test_an_ssml_span_is_read_in_its_own_language():
    plan = prepare(
        ssml='<speak xml:lang="en-US">Hello 12 <lang xml:lang="fr-FR">bonjour 12</lang></speak>'
    )
    assert [(s.text, s.language) for s in plan.segments] == [
        ("Hello twelve", "en-US"),
        ("bonjour 12", "fr-FR"),
    ]


def test_a_french_document_with_an_english_span():
    plan = prepare(
        ssml='<speak xml:lang="fr-FR">Le 3/4/2025 à 10h. <s xml:lang="en-GB">On 3/4/2025.</s>'
        '<lang xml:lang="de">Am 3.4.2025.</lang></speak>'
    )
    assert [(s.text, s.language) for s in plan.segments] == [
        ("Le 3/4/2025 à 10h.", "fr-FR"),
        ("On the third of April twenty twenty five.", "en-GB"),
        ("Am 3.4.2025.", "de"),
    ]


def test_say_as_in_another_language_is_left_to_the_engine():
    plan = prepare(
        ssml='<speak xml:lang="fr-FR">Code <say-as interpret-as="characters">AB12</say-as>, '
        'le <say-as interpret-as="date" format="dmy">3/4/2025</say-as>, '
        '<say-as interpret-as="cardinal">12</say-as> '
        '<say-as interpret-as="expletive">merde</say-as>.</speak>'
    )
    # The opening clause is its own segment, as in English.
    assert texts(plan) == ["Code A B 1 2,", "le 3/4/2025, 12 bleep."]
    assert {s.language for s in plan.segments} == {"fr-FR"}


def test_a_phoneme_in_another_language_keeps_its_written_fallback():
    plan = prepare(
        ssml='<speak xml:lang="de-DE">Der <phoneme alphabet="ipa" ph="ˈʃtʊtɡaʁt">'
        "Stuttgart 21</phoneme> Bahnhof</speak>"
    )
    assert texts(plan) == ["Der Stuttgart 21 Bahnhof"]
    assert plan.segments[0].parts == (("text", "Der"), ("ipa", "ˈʃtʊtɡaʁt"), ("text", "Bahnhof"))
