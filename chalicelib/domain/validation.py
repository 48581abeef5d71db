"""Request parsing shared by every route: JSON bodies, schemas, query parameters, field types."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, overload

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from chalicelib.domain.errors import InvalidInput, PayloadTooLarge, Unauthorized

__all__ = [
    "Schema",
    "Instant",
    "Label",
    "Sku",
    "PhoneText",
    "CodeText",
    "parse_int_param",
    "encode_cursor",
    "decode_cursor",
    "TimeZoneName",
    "parse_json_body",
    "validate",
    "refuse_fields",
    "parse_limit",
    "format_instant",
    "bearer_token",
    "parse_idempotency_key",
]

_S = TypeVar("_S", bound="Schema")
_MIN_YEAR, _MAX_YEAR = 2000, 2100


class Schema(BaseModel):
    """Base for request bodies: strict types, unknown fields refused.

    Each schema's validator is built on its first use (defer_build), not when its module
    is imported: a cold container serving a scan builds one, not every route's.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


def _parse_instant(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be an ISO 8601 date-time string with a UTC offset, e.g. 2026-12-01T00:00:00+07:00")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "must be an ISO 8601 date-time string with a UTC offset, e.g. 2026-12-01T00:00:00+07:00"
        ) from None
    if "T" not in text.upper() or parsed.tzinfo is None:
        raise ValueError("must include a time and a UTC offset, e.g. 2026-12-01T00:00:00+07:00")
    if not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        raise ValueError(f"must be between the years {_MIN_YEAR} and {_MAX_YEAR}")
    return parsed.astimezone(UTC)


@functools.lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError("must be an IANA time zone name, e.g. Asia/Ho_Chi_Minh")
    return value


def _text_checker(max_length: int):
    def check(value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
            raise ValueError("must not contain control or invisible characters")
        return unicodedata.normalize("NFC", value)

    return check


Instant = Annotated[datetime, BeforeValidator(_parse_instant)]
TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
# Trimmed, non-empty strings of visible characters, by what they hold and how long they may be.
Label = Annotated[str, AfterValidator(_text_checker(120))]
Sku = Annotated[str, AfterValidator(_text_checker(64))]
PhoneText = Annotated[str, AfterValidator(_text_checker(40))]
CodeText = Annotated[str, AfterValidator(_text_checker(20))]


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


def _field_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not path:
            path = str(part)
        else:
            path += f".{part}"
    return path or "body"


_MESSAGES = {
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


def _message(error: ErrorDetails) -> str:
    text = _MESSAGES.get(error["type"])
    if text:
        return text.format(**{k: str(v) for k, v in (error.get("ctx") or {}).items()})
    msg = str(error.get("msg", "Invalid value."))
    # pydantic prefixes errors raised by our validators; the client needs only the reason.
    msg = re.sub(r"^(Value|Assertion) error, ", "", msg)
    return msg[0].upper() + msg[1:] + ("" if msg.endswith(".") else ".")


def validate(schema: type[_S], data: dict) -> _S:
    """Validate `data` against `schema`, raising InvalidInput naming the first bad field."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = _field_path(first["loc"])
        raise InvalidInput(f"{field}: {_message(first)}", field=field) from None


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
        raise InvalidInput("cursor: Not a cursor this API returned.", field="cursor")
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
