"""Request body schemas: the base every route's body schema derives from, its field types,
and `validate`, which turns pydantic's first error into a 400 naming the field.

Loaded by the routes that take a body with a schema; the scan path does without it
(see chalicelib.domain.validation.string_fields).
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.ids import is_brand_id
from chalicelib.domain.validation import MESSAGES, field_path

__all__ = [
    "Schema",
    "BrandIdText",
    "Instant",
    "Label",
    "SmsLabel",
    "Sku",
    "PhoneText",
    "CodeText",
    "TimeZoneName",
    "validate",
    "check_sms_safe",
]

_S = TypeVar("_S", bound="Schema")
_MIN_YEAR, _MAX_YEAR = 2000, 2100


class Schema(BaseModel):
    """Base for request bodies: strict types, unknown fields refused.

    Each schema's validator is built on its first use (defer_build), not when its module
    is imported: a cold container builds only those of the requests it serves.
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


def _text_checker(max_length: int) -> Callable[[str], str]:
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


# Text that goes into an SMS to shoppers must not carry a way to reach someone else: a link
# (a scheme, "www." or a host under a common top-level domain) or a phone number (a "+"
# and 8 digits, a 0 and 9 digits, however spaced, or 9 digits in a row). Amounts such as
# "100.000.000 VND" are neither.
_LINK = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]*://|\bwww\.|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\."
    r"(?:com|net|org|info|biz|vn|ph|io|co|me|ly|app|site|online|shop|store|top|xyz|link|click|asia)\b)"
)
_PHONE = re.compile(r"\+[\s(]*\d(?:[\s.()-]*\d){7,}|(?<!\d)0(?:[\s.()-]*\d){8,}|\d{9,}")


def check_sms_safe(value: str) -> str:
    if _LINK.search(value):
        raise ValueError("must not contain a web address: it goes into the winners' SMS")
    if _PHONE.search(value):
        raise ValueError("must not contain a phone number: it goes into the winners' SMS")
    return value


Instant = Annotated[datetime, BeforeValidator(_parse_instant)]
TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
# Trimmed, non-empty strings of visible characters, by what they hold and how long they may be.
Label = Annotated[str, AfterValidator(_text_checker(120))]
Sku = Annotated[str, AfterValidator(_text_checker(64))]
PhoneText = Annotated[str, AfterValidator(_text_checker(40))]
CodeText = Annotated[str, AfterValidator(_text_checker(20))]


def _brand_id(value: str) -> str:
    if not is_brand_id(value):
        raise ValueError("Not a brand id (lower-case letters, digits and dashes).")
    return value


# A brand named in a shopper's body (which brand's consent): its shape only; the brand is theirs to name.
BrandIdText = Annotated[str, AfterValidator(_brand_id)]
# A Label that is put into an SMS to shoppers (a draw's name and prize).
SmsLabel = Annotated[str, AfterValidator(_text_checker(120)), AfterValidator(check_sms_safe)]


def _message(error: ErrorDetails) -> str:
    text = MESSAGES.get(error["type"])
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
        field = field_path(first["loc"])
        raise InvalidInput(f"{field}: {_message(first)}", field=field) from None
