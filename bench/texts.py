"""What the bench says: phone-agent lines of fixed word counts (checked at import)."""

from __future__ import annotations

# 10 words: one short turn, the latency case.
SENTENCE = "Thanks for calling Riverside Dental, how can I help you?"

# 60 words: a long turn, several sentences (the first one cut short by split_text).
PARAGRAPH = (
    "Thank you for calling Riverside Dental, this is the automated assistant. "
    "I can see an appointment for next Tuesday at half past two with Doctor Patel. "
    "To keep this appointment, please say yes or press one. "
    "To move it, say change or press two, and I will find another time that works for you. "
    "Can I help with anything else?"
)

# Five lengths (5, 15, 30, 50 and 80 words), cycled by the memory run.
VARIED = (
    "Please hold the line, thanks.",
    "Your order has shipped and should arrive on Thursday between nine and noon, as planned.",
    (
        "I have found three open slots next week: Monday at ten, Wednesday at two thirty, "
        "and Friday at four. Which one would suit you best, or shall I "
        "look further?"
    ),
    (
        "Before we continue, I need to confirm a few details. Could you tell me the "
        "name on the account, the postal code of the billing address, and the last four "
        "digits of the card you used for the last payment? Once I have those, I can "
        "go over the charges."
    ),
    (
        "Thanks for waiting. I have gone through your account and I can see what happened. "
        "The payment you made on the third was applied to the old plan instead of the new one, "
        "so the system marked the new plan as overdue and sent you a reminder. I have moved the "
        "payment across, removed the late fee, and added a note so this does not happen again. "
        "You will get an email confirming all of it within the next hour."
    ),
)


def words(text: str) -> int:
    return len(text.split())


assert words(SENTENCE) == 10, words(SENTENCE)
assert words(PARAGRAPH) == 60, words(PARAGRAPH)
assert [words(t) for t in VARIED] == [5, 15, 30, 50, 80], [words(t) for t in VARIED]
