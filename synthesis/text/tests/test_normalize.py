"""Unit tests for the text normalizer (pure: no Django, no database)."""

import pytest

from synthesis.text.normalize import DATE_FORMATS, SAY_AS_TYPES, normalize, say_as
from synthesis.text.normalize.numbers import cardinal, ordinal, year


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1", "one"),
        ("123", "one hundred and twenty three"),
        ("1,000,000 people", "one million people"),
        ("123,000", "one hundred twenty three thousand"),
        ("18081", "eighteen thousand and eighty one"),
        ("-5", "minus five"),
        ("004", "zero zero four"),
        ("1234567890123", "one two three, four five six, seven eight nine, zero one two three"),
        ("3.14", "three point one four"),
        (".5", "point five"),
        ("2.050", "two point zero five zero"),
        ("-0.1", "minus zero point one"),
        ("0.1 billion", "zero point one billion"),
        ("version 3.11.4", "version three point eleven point four"),
    ],
)
def test_cardinals_and_decimals(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("21st", "twenty first"),
        ("2nd", "second"),
        ("3rd", "third"),
        ("12th", "twelfth"),
        ("100th", "one hundredth"),
        ("1,000th", "one thousandth"),
        ("the 20th century", "the twentieth century"),
        ("1th", "one th"),
    ],
)
def test_ordinals(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("3/4", "three quarters"),
        ("1/2", "one half"),
        ("1 1/2", "one and a half"),
        ("2/3", "two thirds"),
        ("22/3", "twenty two thirds"),
        ("¾ cup", "three quarters cup"),
        ("1½", "one and a half"),
    ],
)
def test_fractions(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("5-10", "five to ten"),
        ("2010-2015", "twenty ten to twenty fifteen"),
        ("1960-80", "nineteen sixty to eighty"),
        ("2-5lb", "two to five pounds"),
        ("$250-$300", "two hundred and fifty dollars to three hundred dollars"),
        ("2pm-5pm", "two PM to five PM"),
        ("978-0", "nine hundred and seventy eight-zero"),
        ("1-2=5", "one minus two equals five"),
    ],
)
def test_ranges(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "locale", "spoken"),
    [
        ("₦2,500.50", "en-US", "two thousand five hundred naira and fifty kobo"),
        ("₦2,500.50", "en-NG", "two thousand five hundred naira and fifty kobo"),
        ("N5,000", "en-NG", "five thousand naira"),
        ("NGN 2,000", "en-NG", "two thousand naira"),
        ("₦10k", "en-NG", "ten thousand naira"),
        ("₦1", "en-NG", "one naira"),
        ("₦0.50", "en-NG", "fifty kobo"),
        ("$3.5 million", "en-US", "three point five million dollars"),
        ("£20", "en-GB", "twenty pounds"),
        ("£1.20", "en-GB", "one pound twenty pence"),
        ("£2.01", "en-GB", "two pounds one penny"),
        ("€1.50", "en-US", "one euro fifty cents"),
        ("$1", "en-US", "one dollar"),
        ("$0.99", "en-US", "ninety nine cents"),
        ("$20.50", "en-US", "twenty dollars fifty cents"),
        ("$20.50", "en-NG", "twenty dollars and fifty cents"),
        ("$1.234", "en-US", "one point two three four dollars"),
        ("$20/mo", "en-US", "twenty dollars per month"),
        ("¥30B", "en-US", "thirty billion yen"),
        ("US$76.3 trillion", "en-US", "seventy six point three trillion US dollars"),
    ],
)
def test_money(text, locale, spoken):
    assert normalize(text, locale) == spoken


def test_naira_letter_only_in_nigeria():
    assert normalize("N5,000", "en-US") == "N five thousand"
    assert normalize("N5,000", "en-NG") == "five thousand naira"


@pytest.mark.parametrize(
    ("text", "locale", "spoken"),
    [
        ("50%", "en-US", "fifty percent"),
        ("10 km", "en-US", "ten kilometers"),
        ("10 km", "en-GB", "ten kilometres"),
        ("10 km", "en-NG", "ten kilometres"),
        ("5kg", "en-US", "five kilograms"),
        ("1kg", "en-US", "one kilogram"),
        ("60 mph", "en-US", "sixty miles per hour"),
        ("25°C", "en-US", "twenty five degrees Celsius"),
        ("1°C", "en-US", "one degree Celsius"),
        ("3.5 cm²", "en-US", "three point five square centimeters"),
        ("12kg/kg", "en-US", "twelve kilograms per kilogram"),
        ("4 1/2 lbs", "en-US", "four and a half pounds"),
        ("100 million kg", "en-US", "one hundred million kilograms"),
        ("2 L", "en-GB", "two litres"),
        ('12"', "en-US", "twelve inches"),
    ],
)
def test_measures(text, locale, spoken):
    assert normalize(text, locale) == spoken


@pytest.mark.parametrize(
    ("text", "locale", "spoken"),
    [
        ("3/4/2025", "en-US", "March fourth twenty twenty five"),
        ("3/4/2025", "en-GB", "the third of April twenty twenty five"),
        ("3/4/2025", "en-NG", "the third of April twenty twenty five"),
        ("15/01/2020", "en-US", "the fifteenth of January twenty twenty"),
        ("01/15/2020", "en-GB", "January fifteenth twenty twenty"),
        ("2025-03-04", "en-US", "March fourth twenty twenty five"),
        ("2025-03-04", "en-GB", "the fourth of March twenty twenty five"),
        ("2025-03-04", "en-NG", "the fourth of March twenty twenty five"),
        ("March 4, 2025", "en-US", "March fourth, twenty twenty five"),
        ("4 March 2025", "en-US", "the fourth of March twenty twenty five"),
        ("Jan. 15", "en-US", "January fifteenth"),
        ("on the 26th May", "en-US", "on the twenty sixth of May"),
        ("July 1876", "en-US", "July eighteen seventy six"),
        ("1999", "en-US", "nineteen ninety nine"),
        ("2005", "en-US", "two thousand five"),
        ("1906", "en-US", "nineteen oh six"),
        ("2010", "en-US", "twenty ten"),
        ("the 1980s", "en-US", "the nineteen eighties"),
        ("'70s", "en-US", "seventies"),
        ("340 AD", "en-US", "three forty AD"),
        ("3Q22", "en-US", "the third quarter of twenty two"),
    ],
)
def test_dates(text, locale, spoken):
    assert normalize(text, locale) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("3:30pm", "three thirty PM"),
        ("15:45", "fifteen forty five"),
        ("02:00", "two o'clock"),
        ("3:05 a.m. today", "three oh five AM today"),
        ("noon", "noon"),
        ("1:01:01", "one hour one minute and one second"),
        ("12:30 a.m. est", "twelve thirty AM EST"),
        ("5 pm", "five PM"),
        ("a 2:1 ratio", "a two to one ratio"),
    ],
)
def test_times(text, spoken):
    assert normalize(text) == spoken


def test_time_period_kept_at_sentence_end_only():
    assert normalize("Come at 5 p.m. Then eat.") == "Come at five PM. Then eat."
    assert normalize("Come at 5 p.m. and eat.") == "Come at five PM and eat."


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("+1 415 555 0100", "plus one, four one five, five five five, zero one zero zero"),
        (
            "+234 803 123 4567",
            "plus two three four, eight zero three, one two three, four five six seven",
        ),
        (
            "+2348031234567",
            "plus two three four, eight zero three, one two three, four five six seven",
        ),
        ("0803 123 4567", "zero eight zero three, one two three, four five six seven"),
        ("08031234567", "zero eight zero three, one two three, four five six seven"),
        ("(415) 555-0100", "four one five, five five five, zero one zero zero"),
        ("123-123-5678", "one two three, one two three, five six seven eight"),
        ("1-800-GO-U-HAUL", "one, eight hundred, GO U HAUL"),
        ("IP 10.0.0.1", "IP one zero dot zero dot zero dot one"),
    ],
)
def test_telephone(text, spoken):
    assert normalize(text, "en-NG") == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Chapter IV", "Chapter four"),
        ("Henry VIII", "Henry the eighth"),
        ("World War II", "World War two"),
        ("Louis XIV was king", "Louis the fourteenth was king"),
        ("PART XL", "PART forty"),
        ("I think I can.", "I think I can."),
        ("Sam and I", "Sam and I"),
        ("Sam I", "Sam I"),
        ("The CD is here", "The CD is here"),
    ],
)
def test_roman_numerals(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Dr. Smith is here.", "Doctor Smith is here."),
        ("Mr. and Mrs. Smith", "Mister and Misses Smith"),
        ("Ms. Ade", "Miz Ade"),
        ("Prof. Obi", "Professor Obi"),
        ("St. Peter lives on Main St.", "Saint Peter lives on Main Street."),
        (
            "Nancy lived at 1428 Elm St. It was strange.",
            "Nancy lived at fourteen twenty eight Elm Street. It was strange.",
        ),
        ("John Smith Jr. came.", "John Smith Junior came."),
        ("apples, etc. are fruit", "apples, et cetera are fruit"),
        ("fruit, e.g. apples", "fruit, for example, apples"),
        ("one thing, i.e. this", "one thing, that is, this"),
        ("cats vs. dogs", "cats versus dogs"),
        ("Exhibit No. 162", "Exhibit number one hundred and sixty two"),
        ("the U.S.A. is big", "the USA is big"),
        ("C. S. Lewis", "CS Lewis"),
        ("Open Mon.-Fri.", "Open Monday to Friday."),
        ("Stroudsburg, PA", "Stroudsburg, Pennsylvania"),
    ],
)
def test_abbreviations(text, spoken):
    assert normalize(text) == spoken


def test_expanded_abbreviation_leaves_no_sentence_period():
    out = normalize("Dr. Ade met Prof. Obi at St. Mary's.")
    assert out == "Doctor Ade met Professor Obi at Saint Mary's."
    assert out.count(".") == 1


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("info@callwaiting.ai", "info at callwaiting dot AI"),
        ("a.bc@gmail.com", "a dot bc at gmail dot com"),
        ("asdf123@abc.com", "asdf one two three at abc dot com"),
        (
            "https://www.example.com/a-b",
            "HTTPS colon slash slash WWW dot example dot com slash a dash b",
        ),
        ("visit nvidia.com today", "visit nvidia dot com today"),
        ("my email is me@gmail.com!", "my email is me at gmail dot com!"),
    ],
)
def test_electronic(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Tom & Jerry", "Tom and Jerry"),
        ("50% off!", "fifty percent off!"),
        ("@home", "at home"),
        ("#1 fan", "number one fan"),
        ("#tag", "hash tag"),
        ("a+b=c", "a plus b equals c"),
        ("f++", "f plus plus"),
        ("2 * 10", "two times ten"),
        ("upgrade/update", "upgrade slash update"),
        ("5 < 6", "five less than six"),
        ("<b>bold</b>", "b bold b"),
        ("a | b", "a, b"),
        ("$ and %", "dollar and percent"),
    ],
)
def test_symbols(text, spoken):
    assert normalize(text) == spoken


def test_sentence_punctuation_is_kept():
    assert normalize("Is it 5? Yes; it is 6, not 7: ok!") == (
        "Is it five? Yes; it is six, not seven: ok!"
    )


def test_an_unknown_english_locale_reads_like_en_us():
    assert normalize("3/4/2025", "en-CA") == normalize("3/4/2025", "en-US")


def test_a_locale_in_another_language_is_left_as_written():
    assert normalize("  le ``3/4/2025''  ", "fr-FR") == 'le "3/4/2025"'


def test_number_helpers():
    assert cardinal(124_444_234_854_823_834_553).endswith("five hundred and fifty three")
    assert cardinal(123, use_and=False) == "one hundred twenty three"
    assert ordinal(111) == "one hundred eleventh"
    assert year(1900) == "nineteen hundred"
    assert year(2000) == "two thousand"


# ------------------------------------------------------------------------------------ say-as


def test_say_as_types_and_formats():
    assert {
        "cardinal",
        "number",
        "ordinal",
        "characters",
        "spell-out",
        "digits",
        "fraction",
        "unit",
        "date",
        "time",
        "telephone",
        "currency",
        "verbatim",
        "address",
        "name",
        "expletive",
    } <= SAY_AS_TYPES
    assert {"dmy", "mdy", "ymd", "md", "dm", "ym", "my", "d", "m", "y"} == DATE_FORMATS


@pytest.mark.parametrize(
    ("text", "kind", "spoken"),
    [
        ("123", "cardinal", "one hundred and twenty three"),
        ("1,234", "number", "one thousand two hundred and thirty four"),
        ("-5", "cardinal", "minus five"),
        ("3.5", "cardinal", "three point five"),
        ("21", "ordinal", "twenty first"),
        ("21st", "ordinal", "twenty first"),
        ("ab1", "characters", "A B one"),
        ("ab-1", "spell-out", "A B one"),
        ("123", "digits", "one two three"),
        ("3/4", "fraction", "three quarters"),
        ("1 1/2", "fraction", "one and a half"),
        ("5kg", "unit", "five kilograms"),
        ("10 km/h", "unit", "ten kilometers per hour"),
        ("3:30pm", "time", "three thirty PM"),
        ("1530", "time", "fifteen thirty"),
        ("noon", "time", "noon"),
        (
            "+1 415 555 0100",
            "telephone",
            "plus one, four one five, five five five, zero one zero zero",
        ),
        ("08031234567", "telephone", "zero eight zero three, one two three, four five six seven"),
        ("$5.50", "currency", "five dollars fifty cents"),
        ("NGN 2000", "currency", "two thousand naira"),
        ("a.b-c", "verbatim", "A dot B dash C"),
        ("a@b", "verbatim", "A at B"),
        ("12 Main St.", "address", "twelve Main Street."),
        ("Dr. Ade", "name", "Doctor Ade"),
        ("3+1/2", "fraction", "three and a half"),
        ("2/9", "fraction", "two ninths"),
    ],
)
def test_say_as(text, kind, spoken):
    assert say_as(text, kind) == spoken


@pytest.mark.parametrize(
    ("text", "fmt", "locale", "spoken"),
    [
        ("3/4/2025", None, "en-US", "March fourth twenty twenty five"),
        ("3/4/2025", None, "en-GB", "the third of April twenty twenty five"),
        ("3/4/2025", None, "en-NG", "the third of April twenty twenty five"),
        ("3/4/2025", "mdy", "en-US", "March fourth twenty twenty five"),
        ("3/4/2025", "dmy", "en-US", "April third twenty twenty five"),
        ("2025-03-04", "ymd", "en-US", "March fourth twenty twenty five"),
        ("2025-03-04", "ymd", "en-GB", "the fourth of March twenty twenty five"),
        ("3/4", "md", "en-US", "March fourth"),
        ("3/4", "dm", "en-GB", "the third of April"),
        ("2025-03", "ym", "en-US", "March twenty twenty five"),
        ("03/2025", "my", "en-US", "March twenty twenty five"),
        ("4", "d", "en-US", "the fourth"),
        ("3", "m", "en-US", "March"),
        ("1999", "y", "en-US", "nineteen ninety nine"),
        ("Mar 4 2025", "mdy", "en-US", "March fourth twenty twenty five"),
        # Compact forms, and ? for a field left unsaid (Polly's convention).
        ("20250304", None, "en-US", "March fourth twenty twenty five"),
        ("????0922", None, "en-US", "September twenty second"),
        ("????0922", None, "en-GB", "the twenty second of September"),
        ("??-22-2020", "mdy", "en-US", "the twenty second twenty twenty"),
    ],
)
def test_say_as_date(text, fmt, locale, spoken):
    assert say_as(text, "date", format=fmt, locale=locale) == spoken


def test_say_as_falls_back_to_normalize():
    assert say_as("not a number 5", "cardinal") == "not a number five"
    assert say_as("13/45/2025", "date", format="mdy") == normalize("13/45/2025")
    assert say_as("soon", "time") == "soon"
    assert say_as("free", "currency") == "free"
    assert say_as("x", "telephone") == "x"


def test_say_as_rejects_unknown_types_and_formats():
    with pytest.raises(ValueError, match="interpret-as"):
        say_as("1", "bogus")
    with pytest.raises(ValueError, match="format"):
        say_as("1/2/2025", "date", format="yyyy")


def test_say_as_expletive_is_listed_but_left_to_the_pipeline():
    assert "expletive" in SAY_AS_TYPES
    assert say_as("darn 5", "expletive") == "darn five"
