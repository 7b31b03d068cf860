"""Reading for phone calls (issue 16, point 1): what an agent reads out to a caller — codes,
telephone numbers, keypad keys, times, ranges, money — in en-US, en-GB and en-NG.

Each test here failed before its rule existed (claims that already read right are not here;
they are listed in docs/text-normalization.md, "Reading for calls")."""

from __future__ import annotations

import pytest

from synthesis.text.normalize import normalize
from synthesis.text.normalize.codes import group_sizes, read_code

LOCALES = ("en-US", "en-GB", "en-NG")
SIX = "four eight two, nine one three"
EIGHT = "eight eight two three, one nine zero seven"
TEN = "zero one two, three four five, six seven eight nine"
LONDON = "zero two zero, seven nine four six, zero nine five eight"
UK_MOBILE = "zero seven seven zero zero, nine zero zero, one two three"
LINE = "five five five, zero one nine nine"


# ------------------------------------------------------------------------------------ codes


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Your code is 482913.", "Your code is four eight two, nine one three."),
        ("Your one-time code is 482913", "Your one-time code is four eight two, nine one three"),
        ("Your OTP is 482913.", "Your OTP is four eight two, nine one three."),
        ("Your PIN is 4821.", "Your pin is four eight two one."),
        ("Your card ending 4242 was charged.", "Your card ending four two four two was charged."),
        ("Your verification code: 482913", f"Your verification code: {SIX}"),
        ("Reference number 88231907", f"Reference number {EIGHT}"),
        ("Order number is 1234", "Order number is one two three four"),
        (
            "Order 12345678 has shipped",
            "Order one two three four, five six seven eight has shipped",
        ),
        ("Ticket #4521 is open", "Ticket number four five two one is open"),
        ("booking ref. 552031", "booking reference five five two, zero three one"),
        ("account no. 0123456789", f"account number {TEN}"),
    ],
)
def test_it_reads_a_code_after_a_context_word_digit_by_digit_in_groups(text, spoken, locale):
    assert normalize(text, locale) == spoken


def test_it_keeps_the_groups_a_code_is_written_in():
    spoken = "Your code is four eight two nine, one three zero six"
    assert normalize("Your code is 4829 1306") == spoken
    assert normalize("PIN: 12-34") == "pin: one two, three four"


def test_it_spells_a_code_of_letters_and_digits_after_a_context_word():
    assert normalize("Your booking reference is XK42P9.") == (
        "Your booking reference is X K four, two P nine."
    )
    # lower-case letters stay a run, as the shared suite reads them
    assert normalize("your otp is ab9453") == "your otp is ab nine, four five three"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Order 3 pizzas", "Order three pizzas"),
        ("Order 1000 units", "Order one thousand units"),
        ("two accounts, 25000 customers", "two accounts, twenty five thousand customers"),
        ("the code of 1999", "the code of nineteen ninety nine"),
        ("my account balance is 15000", "my account balance is fifteen thousand"),
        (
            "Enter your PIN. 1234 is wrong",
            "Enter your pin. twelve thirty four is wrong",
        ),
        (
            "Your code is 482913 5 minutes",
            "Your code is four eight two, nine one three five minutes",
        ),
    ],
)
def test_it_leaves_numbers_that_are_not_codes_as_numbers(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("length", "sizes"),
    [
        (3, [3]),
        (4, [4]),
        (5, [2, 3]),
        (6, [3, 3]),
        (7, [3, 4]),
        (8, [4, 4]),
        (9, [3, 3, 3]),
        (10, [3, 3, 4]),
        (11, [3, 4, 4]),
        (16, [4, 4, 4, 4]),
    ],
)
def test_code_groups_are_the_fewest_of_at_most_four_with_the_longer_ones_last(length, sizes):
    assert group_sizes(length) == sizes
    assert sum(sizes) == length


def test_it_reads_long_bare_digit_strings_in_groups():
    assert normalize("1234567890123") == (
        "one two three, four five six, seven eight nine, zero one two three"
    )


def test_it_never_says_double_or_triple():
    assert read_code("1100099") == "one one zero, zero zero nine nine"


# ---------------------------------------------------------------------------- telephone


@pytest.mark.parametrize(
    ("text", "locale", "spoken"),
    [
        ("Call 020 7946 0958", "en-GB", f"Call {LONDON}"),
        ("Call 020-7946-0958", "en-GB", f"Call {LONDON}"),
        ("Call 0161 496 0123", "en-GB", "Call zero one six one, four nine six, zero one two three"),
        ("Call 07700 900123", "en-GB", f"Call {UK_MOBILE}"),
        ("Call 07700900123", "en-GB", f"Call {UK_MOBILE}"),
        ("Call 02079460958", "en-GB", f"Call {LONDON}"),
        ("Ring 0800 123 456", "en-GB", "Ring zero eight zero zero, one two three, four five six"),
        (
            "Ring 0800 1234 567",
            "en-GB",
            "Ring zero eight zero zero, one two three four, five six seven",
        ),
        ("Call 01 234 5678", "en-NG", "Call zero one, two three four, five six seven eight"),
        ("Call 020 7946 0958", "en-US", f"Call {LONDON}"),
    ],
)
def test_it_reads_national_numbers_with_a_trunk_zero_in_their_groups(text, locale, spoken):
    assert normalize(text, locale) == spoken


@pytest.mark.parametrize(
    "text",
    ["Call 1-800-555-0199", "Call 1 800 555 0199", "Call 1 (800) 555-0199", "Call 1.800.555.0199"],
)
def test_it_reads_a_north_american_number_with_its_leading_one(text):
    assert normalize(text) == f"Call one, eight hundred, {LINE}"


def test_it_reads_a_toll_free_area_code_as_people_say_it():
    assert normalize("Call (800) 555-0199") == f"Call eight hundred, {LINE}"
    assert normalize("Call (888) 555-0199") == f"Call eight eight eight, {LINE}"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("text", ["Call 555-0199 now.", "Call 555.0199 now."])
def test_it_reads_a_local_seven_digit_number_as_a_number_not_a_range(text, locale):
    # It was "five hundred and fifty five to one hundred and ninety nine" (a range).
    assert normalize(text, locale=locale) == f"Call {LINE} now."


def test_ranges_that_are_no_local_number_stay_ranges():
    assert normalize("Pages 100-2000.") == "Pages one hundred to two thousand."
    assert normalize("Open 9-5 daily.") == "Open nine to five daily."


def test_it_groups_an_unspaced_ten_digit_number():
    assert normalize("Call 4155550100") == "Call four one five, five five five, zero one zero zero"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        (
            "+44 (0)20 7946 0958",
            "plus four four, two zero, seven nine four six, zero nine five eight",
        ),
        (
            "+234 (0) 803 123 4567",
            "plus two three four, eight zero three, one two three, four five six seven",
        ),
    ],
)
def test_it_leaves_the_bracketed_trunk_zero_of_an_international_number_unsaid(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "locale", "spoken"),
    [
        ("Call 911 now.", "en-US", "Call nine one one now."),
        ("Dial 999.", "en-GB", "Dial nine nine nine."),
        ("Call 112", "en-NG", "Call one one two"),
        ("Text STOP to 88440", "en-GB", "Text STOP to eight eight four four zero"),
        ("text HELP to 55555.", "en-US", "text HELP to five five five five five."),
        ("Dial 300 for support", "en-NG", "Dial three zero zero for support"),
    ],
)
def test_it_reads_a_short_code_after_call_dial_or_text_digit_by_digit(text, locale, spoken):
    assert normalize(text, locale) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Call 100 customers today", "Call one hundred customers today"),
        ("call me in 5 minutes", "call me in five minutes"),
    ],
)
def test_it_leaves_counts_after_call_as_numbers(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "locale", "spoken"),
    [
        ("Dial *123#", "en-NG", "Dial star one two three hash"),
        ("Dial *901*1#.", "en-NG", "Dial star nine zero one star one hash."),
        ("Press # to continue", "en-US", "Press pound to continue"),
        ("Press * to go back", "en-US", "Press star to go back"),
        ("then the * key", "en-NG", "then the star key"),
    ],
)
def test_it_reads_keypad_keys_and_ussd_codes(text, locale, spoken):
    assert normalize(text, locale) == spoken


def test_the_hash_key_is_hash_outside_the_us():
    assert normalize("Press # to continue", "en-GB") == "Press hash to continue"
    assert normalize("then the # key", "en-NG") == "then the hash key"


# ------------------------------------------------------------------- idioms, times, ranges


@pytest.mark.parametrize("locale", LOCALES)
def test_it_reads_twenty_four_seven(locale):
    assert normalize("We're open 24/7.", locale) == "We're open twenty four seven."
    assert normalize("24/7/365 support", locale) == "twenty four seven three sixty five support"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Take it 3x a day", "Take it three times a day"),
        ("3x faster", "three times faster"),
        ("twice is 2x more", "twice is two times more"),
        ("1.5x the price", "one point five times the price"),
    ],
)
def test_it_reads_x_as_times_before_a_word_that_says_so(text, spoken):
    assert normalize(text) == spoken


def test_a_bare_x_after_a_number_stays_x():
    assert normalize("2x") == "two x"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Open 9-5", "Open nine to five"),
        ("Mon-Fri 8-6", "Monday to Friday eight to six"),
        ("Open 9:00-17:00", "Open nine AM to five PM"),
        ("Open Mon - Fri, 9 a.m. - 5 p.m.", "Open Monday to Friday, nine AM to five PM."),
    ],
)
def test_it_reads_opening_hours_as_ranges(text, spoken):
    assert normalize(text) == spoken


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Your appointment is at 18:45.", "Your appointment is at six forty five PM."),
        ("Come by 18:00", "Come by six PM"),
        ("from 18:00 to 20:30", "from six PM to eight thirty PM"),
        ("We open at 09:30.", "We open at nine thirty AM."),
        ("until 12:00", "until noon"),
    ],
)
def test_it_reads_a_24_hour_time_after_a_time_word_on_the_12_hour_clock(text, spoken, locale):
    assert normalize(text, locale) == spoken


def test_a_bare_24_hour_time_keeps_the_suite_reading():
    assert normalize("23:00") == "twenty three o'clock"
    assert normalize("14:10:30") == "fourteen hours ten minutes and thirty seconds"


# ------------------------------------------------------------------------------------ money


@pytest.mark.parametrize(
    ("text", "locale", "spoken"),
    [
        ("50p", "en-GB", "fifty pence"),
        ("It costs 1p", "en-GB", "It costs one penny"),
        ("N 5,000", "en-NG", "five thousand naira"),
        ("5k naira", "en-NG", "five thousand naira"),
        ("5m naira", "en-NG", "five million naira"),
        ("2.5k dollars", "en-US", "two point five thousand dollars"),
        ("10k pounds", "en-GB", "ten thousand pounds"),
    ],
)
def test_it_reads_pence_and_amounts_with_a_scale_letter_before_a_currency_word(
    text, locale, spoken
):
    assert normalize(text, locale) == spoken


def test_p_after_a_number_is_pence_only_in_britain_and_under_a_pound():
    assert normalize("50p", "en-US") == "fifty p"
    assert normalize("720p video", "en-GB") == "seven twenty p video"


# ------------------------------------------------------------------- Nigerian abbreviations


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Alh. Musa", "Alhaji Musa"),
        ("Barr. Ade Okafor", "Barrister Ade Okafor"),
        ("Arc. Bello", "Architect Bello"),
        ("Pst. Ade", "Pastor Ade"),
        ("Mal. Sani", "Mallam Sani"),
        ("Evang. Obi", "Evangelist Obi"),
        ("Gen. Musa (rtd)", "General Musa (retired)"),
        ("Deac. Eze", "Deacon Eze"),
        ("HRH Oba Adeyemi", "His Royal Highness Oba Adeyemi"),
        ("12 Ajose Cl.", "twelve Ajose Close."),
    ],
)
def test_it_expands_nigerian_titles_and_abbreviations_in_en_ng(text, spoken):
    assert normalize(text, "en-NG") == spoken


def test_nigerian_titles_are_left_alone_elsewhere():
    assert normalize("Arc. Bello", "en-US") == "Arc. Bello"


@pytest.mark.parametrize("locale", LOCALES)
def test_it_says_pin_and_sim_as_words_not_letters(locale):
    # A voice spells capitals it does not know: "P I N" (heard so by the bench's recogniser).
    assert normalize("Enter your PIN.", locale=locale) == "Enter your pin."
    assert normalize("Both SIMs work.", locale=locale) == "Both sims work."
    assert normalize("The PIN-pad and PINE stay.", locale=locale) == "The PIN-pad and PINE stay."
