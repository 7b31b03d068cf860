"""JSON in, bounded: every JSON request body and every socket message is checked for nesting
depth before `json.loads` sees it. The decoder recurses once per level: about 1,000 levels (2 KB
of `[`) raise RecursionError, which was a 500 on HTTP and a crashed socket.

Size is bounded before this: a body by its declared length (`API_MAX_BODY_BYTES`, refused by
`ApiPathMiddleware`; DRF reads no body without one), a socket message by
`WS_MAX_MESSAGE_BYTES` (daphne's own limit, `callwaiting_tts.web`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

MAX_JSON_DEPTH = 32

# A JSON string, escapes included; an unterminated one runs to the end, so that one pass over
# the text is linear whatever it holds.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_SAME_BRACKETS = str.maketrans("{}", "[]")


class JsonRefused(ValueError):
    """Refused before parsing: nested too deep, or brackets that cannot balance."""


def check_depth(text: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raises JsonRefused if `text` nests arrays and objects deeper than `max_depth`. Linear:
    strings out, brackets kept, then innermost pairs removed once per level, at most
    `max_depth` times (each pass at C speed)."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text)).translate(_SAME_BRACKETS)
    for _ in range(max_depth):
        if "[]" not in brackets:
            break
        brackets = brackets.replace("[]", "")
    if "[]" in brackets:
        raise JsonRefused(f"JSON may nest at most {max_depth} levels deep.")
    if brackets:  # in valid JSON the brackets outside strings always balance
        raise JsonRefused("Unbalanced brackets: this is not valid JSON.")


def loads(text: str, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """`json.loads` that first refuses documents nested deeper than `max_depth`. Raises
    ValueError (JsonRefused or json.JSONDecodeError)."""
    check_depth(text, max_depth)
    return json.loads(text, **kwargs)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the depth check first (400 `invalid_json`, naming the limit).
    The default parser (`REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`) and every view's own."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        parse_constant = strict_constant if self.strict else None
        try:
            return loads(stream.read().decode(encoding), parse_constant=parse_constant)
        except JsonRefused as error:
            raise ParseError(str(error)) from None
        except ValueError as error:  # UnicodeDecodeError too
            raise ParseError(f"JSON parse error - {error}") from None
