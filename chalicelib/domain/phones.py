"""Phone numbers of shoppers: reading what people type, masking, keyed hashes and sealing (no I/O)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.ids import CROCKFORD

if TYPE_CHECKING:
    import phonenumbers
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "Phone",
    "normalise_phone",
    "keyed_hash",
    "phone_hash",
    "seal_phone",
    "unseal_phone",
    "new_shopper_id",
    "brand_shopper_id",
    "brand_shopper_ids",
    "seal_text",
    "unseal_text",
]


def _numbers() -> ModuleType:
    # phonenumbers (and cryptography, below) are imported on first use: a scan reads no
    # phone number, and a cold container should not pay for them before its first scan.
    import phonenumbers

    return phonenumbers


# What a typed phone number may contain. Letters are refused up front: phonenumbers would
# read them as keypad digits (1-800-FLOWERS), which no shopper means.
_PHONE_CHARS_RE = re.compile(r"^\+?[0-9 ().\-]+$")
_VISIBLE_DIGITS = 3
_MASK = "•"


@dataclass(frozen=True)
class Phone:
    """A mobile number in E.164 form, its region and the masked form that may be shown."""

    e164: str
    region: str
    masked: str


def _bad_phone(message: str) -> InvalidInput:
    return InvalidInput(f"phone: {message}", field="phone", code="phone_invalid")


def _mask(number: phonenumbers.PhoneNumber) -> str:
    """The international form with every digit but the country code and the last three hidden."""
    numbers = _numbers()
    country = f"+{number.country_code}"
    rest = numbers.format_number(number, numbers.PhoneNumberFormat.INTERNATIONAL)[len(country) :]
    hidden = sum(ch.isdigit() for ch in rest) - _VISIBLE_DIGITS
    masked, seen = [], 0
    for ch in rest:
        if ch.isdigit():
            masked.append(_MASK if seen < hidden else ch)
            seen += 1
        else:
            masked.append(ch)
    return country + "".join(masked)


def normalise_phone(raw: str, regions: Sequence[str] = ("VN", "PH")) -> Phone:
    """A mobile number of one of `regions`, from international or national input.

    National input (no country code) is tried in each region in order, so a number valid
    in both is read as the first region's. Raises InvalidInput naming `phone`.
    """
    value = unicodedata.normalize("NFKC", raw).strip() if isinstance(raw, str) else ""
    if not value or len(value) > 32 or not _PHONE_CHARS_RE.fullmatch(value):
        raise _bad_phone("Enter a mobile number using digits, e.g. 0912 345 678 or +84 912 345 678.")
    problem = _bad_phone("Not a valid mobile number. Check it, or add the country code, e.g. +84 912 345 678.")
    numbers = _numbers()
    mobile = (numbers.PhoneNumberType.MOBILE, numbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    for region in [None] if value.startswith("+") else list(regions):
        try:
            number = numbers.parse(value, region)
        except numbers.NumberParseException:
            continue
        if not numbers.is_valid_number(number):
            continue
        number_region = numbers.region_code_for_number(number)
        if number_region is None or number_region not in regions:
            codes = [f"+{numbers.country_code_for_region(r)}" for r in regions]
            listed = " or ".join([", ".join(codes[:-1]), codes[-1]] if len(codes) > 1 else codes)
            problem = _bad_phone(f"Only mobile numbers with the country code {listed} can sign in.")
            continue
        if numbers.number_type(number) not in mobile:
            problem = _bad_phone("This is not a mobile number; the code is sent by SMS.")
            continue
        return Phone(
            e164=numbers.format_number(number, numbers.PhoneNumberFormat.E164),
            region=number_region,
            masked=_mask(number),
        )
    raise problem


def keyed_hash(pepper: str, purpose: str, value: str) -> str:
    # One key, many uses: the purpose label keeps a hash made for one use from matching another.
    return hmac.new(pepper.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def phone_hash(e164: str, pepper: str) -> str:
    """The keyed hash that finds a phone number's records (HMAC-SHA256, hex)."""
    return keyed_hash(pepper, "phone", e164)


def _seal_key(pepper: str, purpose: str) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(hmac.new(pepper.encode(), f"seal:{purpose}:v1".encode(), hashlib.sha256).digest())


def seal_text(text: str, pepper: str, purpose: str) -> str:
    """`text` encrypted and authenticated (AES-256-GCM, a key derived from the pepper per purpose)."""
    nonce = os.urandom(12)
    sealed = _seal_key(pepper, purpose).encrypt(nonce, text.encode(), purpose.encode())
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal_text(sealed: str, pepper: str, purpose: str) -> str:
    """The text of a sealed one; raises ValueError when it was not sealed by us for `purpose`."""
    from cryptography.exceptions import InvalidTag

    try:
        version, _, body = sealed.partition(":")
        blob = base64.urlsafe_b64decode(body.encode())
        if version != "v1" or len(blob) < 28:
            raise ValueError("not sealed text")
        return _seal_key(pepper, purpose).decrypt(blob[:12], blob[12:], purpose.encode()).decode()
    except (ValueError, InvalidTag, UnicodeError, binascii.Error):
        raise ValueError("not sealed text") from None


def seal_phone(e164: str, pepper: str) -> str:
    """The number encrypted for an owner's export (sealed text for the purpose "phone")."""
    return seal_text(e164, pepper, "phone")


def unseal_phone(sealed: str, pepper: str) -> str:
    """The clear number of a sealed one: for owners only, and never to be logged."""
    return unseal_text(sealed, pepper, "phone")


def _crockford_id(prefix: str, digest: bytes) -> str:
    """`prefix_` + 26 Crockford characters from the first 130 bits of a digest."""
    value = int.from_bytes(digest[:17], "big") >> 6
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(CROCKFORD[index])
    return f"{prefix}_" + "".join(reversed(chars))


def new_shopper_id() -> str:
    """`shp_` + 26 Crockford characters from 130 random bits: a new account's id.

    Random, not derived from the number: once a deletion has removed the number's keyed hash
    (the only way from a number to its account), nothing under this id leads back to the number.
    This id is the platform's own: brands never see it.
    """
    return _crockford_id("shp", secrets.token_bytes(17))


def brand_shopper_id(pepper: str, brand_id: str, shopper_id: str) -> str:
    """The id one brand knows a shopper by: `mbr_` + 26 Crockford characters.

    A keyed hash of the brand and the platform's shopper id, so every brand sees its own
    pseudonym for the same person, and two brands comparing their exports (or their
    statistics, winners and redemptions) find no id in common. Stable: the same shopper
    has the same id in every answer and file of one brand.
    """
    return _crockford_id(
        "mbr", hmac.new(pepper.encode(), f"brand-shopper:{brand_id}:{shopper_id}".encode(), hashlib.sha256).digest()
    )


def brand_shopper_ids(pepper: str, brand_id: str) -> Callable[[str], str]:
    """brand_shopper_id for one brand, fast, as a snapshot of a million shoppers needs it: the keyed
    hash's state is kept after the key, and the Crockford form comes two characters (10 bits) at a
    time (tests hold the two equal)."""
    keyed = hmac.new(pepper.encode(), digestmod=hashlib.sha256)
    prefix = f"brand-shopper:{brand_id}:".encode()

    def pseudonym(shopper_id: str) -> str:
        mac = keyed.copy()
        mac.update(prefix + shopper_id.encode())
        # The first 130 bits of the digest as 26 Crockford digits, two at a time.
        value = int.from_bytes(mac.digest()[:17], "big") >> 6
        return "mbr_" + "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])

    return pseudonym


_PAIRS = [CROCKFORD[i >> 5] + CROCKFORD[i & 31] for i in range(1024)]
_SHIFTS = tuple(range(120, -1, -10))
