"""X-SAMPA → IPA, so that `<phoneme alphabet="x-sampa">` reaches engines that take IPA.

X-SAMPA writes IPA in ASCII: most letters stand for themselves, others take a trailing
backslash, a backtick (retroflex) or are punctuation. Symbols are matched longest first.
The table covers the consonants, vowels, stress, length and common diacritics of X-SAMPA;
anything else is passed through unchanged (an engine leaves out what it does not know).
"""

from __future__ import annotations

_TABLE = {
    # Two characters first (matched longest first below).
    "r\\`": "ɻ", "l\\": "ɺ", "r\\": "ɹ", "R\\": "ʀ", "h\\": "ɦ", "j\\": "ʝ", "x\\": "ɧ",
    "s\\": "ɕ", "z\\": "ʑ", "G\\": "ɢ", "N\\": "ɴ", "B\\": "ʙ", "H\\": "ʜ", "L\\": "ʟ",
    "M\\": "ɰ", "v\\": "ʋ", "K\\": "ɮ", "?\\": "ʕ", "<\\": "ʢ", ">\\": "ʡ", "I\\": "ᵻ",
    "U\\": "ᵿ", "@\\": "ɘ", "3\\": "ɞ", "b_<": "ɓ", "d_<": "ɗ", "g_<": "ɠ",
    "t`": "ʈ", "d`": "ɖ", "n`": "ɳ", "r`": "ɽ", "s`": "ʂ", "z`": "ʐ", "l`": "ɭ", "@`": "ɚ",
    "_h": "ʰ", "_w": "ʷ", "_j": "ʲ", "_~": "̃", "_0": "̥", "_=": "̩", "=": "̩",
    # One character.
    "A": "ɑ", "B": "β", "C": "ç", "D": "ð", "E": "ɛ", "F": "ɱ", "G": "ɣ", "H": "ɥ",
    "I": "ɪ", "J": "ɲ", "K": "ɬ", "L": "ʎ", "M": "ɯ", "N": "ŋ", "O": "ɔ", "P": "ʋ",
    "Q": "ɒ", "R": "ʁ", "S": "ʃ", "T": "θ", "U": "ʊ", "V": "ʌ", "W": "ʍ", "X": "χ",
    "Y": "ʏ", "Z": "ʒ", "@": "ə", "{": "æ", "}": "ʉ", "1": "ɨ", "2": "ø", "3": "ɜ",
    "4": "ɾ", "5": "ɫ", "6": "ɐ", "7": "ɤ", "8": "ɵ", "9": "œ", "&": "ɶ", "?": "ʔ",
    "\"": "ˈ", "%": "ˌ", ":": "ː", ":\\": "ˑ", "'": "ʲ",
}  # fmt: skip
_LONGEST = max(len(symbol) for symbol in _TABLE)


def xsampa_to_ipa(text: str) -> str:
    out: list[str] = []
    position = 0
    while position < len(text):
        for size in range(_LONGEST, 0, -1):
            symbol = text[position : position + size]
            if len(symbol) == size and symbol in _TABLE:
                out.append(_TABLE[symbol])
                position += size
                break
        else:
            out.append(text[position])
            position += 1
    return "".join(out)
