"""Request parsing shared by every route: JSON bodies, query parameters, cursors, headers.

Nothing here loads pydantic: the scan path, which a cold container serves first, parses
its request with these alone. Request bodies with a schema are checked by
chalicelib.domain.schemas, which uses the same messages (MESSAGES) for the same faults.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, overload

from chalicelib.domain.errors import InvalidInput, PayloadTooLarge, Unauthorized

__all__ = [
    "MESSAGES",
    "field_path",
    "string_fields",
    "parse_int_param",
    "NOT_A_CURSOR",
    "encode_cursor",
    "decode_cursor",
    "parse_json_body",
    "refuse_fields",
    "parse_limit",
    "format_instant",
    "bearer_token",
    "parse_idempotency_key",
]


def format_instant(value: datetime) -> str:
    """UTC, second precision, with a Z: the one form the API returns."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_json_body(raw: bytes | str | None, max_bytes: int) -> dict:
    """Decode a JSON object body, refusing oversize and non-object input."""
    if raw is None or raw == b"" or raw == "":
        raise InvalidInput("A JSON object body is required.", field="body")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes // 1024} KB.", field="body")
    try:
        # json.loads(raw, parse_constant=...) would build a new decoder on every call.
        text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, bytes) else raw
        data = _BODY_DECODER.decode(text)
    except (ValueError, RecursionError):
        raise InvalidInput("The body is not valid JSON.", field="body", code="malformed_json") from None
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.", field="body")
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_BODY_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def field_path(loc: Iterable[Any]) -> str:
    """A field's name as errors give it: `prizes[0].name`; the whole body is `body`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not path:
            path = str(part)
        else:
            path += f".{part}"
    return path or "body"


MESSAGES = {
    "extra_forbidden": "Unknown field.",
    "missing": "This field is required.",
    "model_type": "Must be a JSON object.",
    "dict_type": "Must be a JSON object.",
    "model_attributes_type": "Must be a JSON object.",
    "list_type": "Must be a JSON array.",
    "string_type": "Must be a string.",
    "int_type": "Must be a whole number.",
    "int_from_float": "Must be a whole number.",
    "int_parsing": "Must be a whole number.",
    "bool_type": "Must be true or false.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than_equal": "Must be at most {le}.",
    "too_long": "Must have at most {max_length} items.",
    "too_short": "Must have at least {min_length} items.",
    "string_too_long": "Must be at most {max_length} characters.",
    "string_pattern_mismatch": "Is not in the expected format.",
    "literal_error": "Must be one of {expected}.",
}


def string_fields(data: Mapping[str, Any], *names: str) -> tuple[str, ...]:
    """The values of a body made only of the required string fields `names`, in that order.

    The same checks and messages as a strict schema of those fields (a missing field, a
    field that is not a string, then any unknown field), for the scan path's one-field
    body, so that serving a scan never builds a pydantic validator.
    """
    for name in names:
        if name not in data:
            raise InvalidInput(f"{name}: {MESSAGES['missing']}", field=name)
        if not isinstance(data[name], str):
            raise InvalidInput(f"{name}: {MESSAGES['string_type']}", field=name)
    for name in data:
        if name not in names:
            raise InvalidInput(f"{name}: {MESSAGES['extra_forbidden']}", field=name)
    return tuple(data[name] for name in names)


def refuse_fields(data: dict, names: Iterable[str], reason: str) -> None:
    """Refuse server-owned fields by name, with the reason, before schema validation."""
    for name in names:
        if name in data:
            raise InvalidInput(f"{name}: {reason}", field=name, code="read_only_field")


def parse_limit(value: str | None, *, default: int = 25, maximum: int = 100) -> int:
    """A page size from a query string: a whole number from 1 to `maximum`."""
    return parse_int_param("limit", value, minimum=1, maximum=maximum, default=default)


@overload
def parse_int_param(name: str, value: str | None, *, minimum: int, maximum: int, default: int) -> int: ...
@overload
def parse_int_param(
    name: str, value: str | None, *, minimum: int, maximum: int, default: None = None
) -> int | None: ...
def parse_int_param(
    name: str, value: str | None, *, minimum: int, maximum: int, default: int | None = None
) -> int | None:
    """A whole-number query parameter within bounds, or `default` when absent (an empty value is not absent)."""
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,10}", value) or not minimum <= int(value) <= maximum:
        raise InvalidInput(f"{name}: must be a whole number from {minimum} to {maximum}.", field=name)
    return int(value)


NOT_A_CURSOR = "cursor: Not a cursor this API returned."


def encode_cursor(last_id: str) -> str:
    """An opaque page cursor: the last id of the page, base64url."""
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, id_pattern: re.Pattern) -> str:
    """The id inside a cursor this API returned; anything else is a 400 naming `cursor`."""
    try:
        last_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        last_id = ""
    if not id_pattern.fullmatch(last_id):
        raise InvalidInput(NOT_A_CURSOR, field="cursor")
    return last_id


def bearer_token(authorization: str | None, max_chars: int) -> str:
    """The token of an `Authorization: Bearer <token>` header; anything else is Unauthorized."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > max_chars:
        raise Unauthorized()
    return token


_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def parse_idempotency_key(value: str | None) -> str | None:
    """The `Idempotency-Key` header, when sent: 1 to 100 letters, digits or ._:- characters."""
    if value is not None and not _IDEMPOTENCY_KEY.match(value):
        raise InvalidInput("Idempotency-Key: 1 to 100 letters, digits or ._:- characters.", field="Idempotency-Key")
    return value
