"""Product codes: mint, format and verify MAC-tagged Crockford base32 codes (pure functions)."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from chalicelib.domain.errors import CodeInvalid

__all__ = [
    "ALPHABET",
    "BATCH_MAX",
    "CODE_LENGTH",
    "MIN_KEY_BYTES",
    "SERIAL_LIMIT",
    "VERSION_MAX",
    "CodeInvalid",
    "CodeParts",
    "Keyring",
    "code_url",
    "format_code",
    "iter_codes",
    "mint_code",
    "normalize_code",
    "parse_code",
    "read_code",
]

# --- format constants -------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32 symbols, value = index."""

VERSION_MAX = 31  # 5 bits, 1 symbol
BATCH_MAX = (1 << 25) - 1  # 25 bits, 5 symbols; batch 0 is never valid
SERIAL_LIMIT = 1 << 25  # serials are 0 .. SERIAL_LIMIT - 1 (25 bits, 5 symbols)
TAG_BYTES = 5  # 40-bit MAC tag, 8 symbols
MIN_KEY_BYTES = 32
CODE_LENGTH = 20  # symbols: 1 version + 5 batch + 5 serial + 8 tag + 1 check
MAX_INPUT_CHARS = 64  # anything longer is rejected before any work

_MAC_DOMAIN = b"qrc1"


# --- GF(32) check symbol ----------------------------------------------------------------
# GF(2^5) = GF(2)[x] / (x^5 + x^2 + 1); alpha = x is primitive (order 31).
# Weight of symbol position i (0..19) is alpha^(i+1); a valid code has
#     sum_i alpha^(i+1) * v_i == 0      (field multiply, XOR add)
# so the check symbol v_19 = alpha^-20 * sum_{i<19} alpha^(i+1) v_i = alpha^11 * S.

_POLY = 0b100101
_EXP = [0] * 62
_LOG = [0] * 32
_x = 1
for _i in range(31):
    _EXP[_i] = _EXP[_i + 31] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0b100000:
        _x ^= _POLY
del _x, _i


def _gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


# _WEIGHTED[i][v] = alpha^(i+1) * v : contribution of value v at position i to the sum.
_WEIGHTED = tuple(tuple(_gf_mul(_EXP[(i + 1) % 31], v) for v in range(32)) for i in range(CODE_LENGTH))
# _CHECK_PART[i][v] = alpha^-20 * alpha^(i+1) * v : contribution to the check symbol itself.
_CHECK_PART = tuple(tuple(_gf_mul(_EXP[(i + 1 - 20) % 31], v) for v in range(32)) for i in range(CODE_LENGTH - 1))


def _check_value(body: list[int] | tuple[int, ...]) -> int:
    """Value of the check symbol for 19 body symbol values."""
    c = 0
    for i, v in enumerate(body):
        c ^= _CHECK_PART[i][v]
    return c


# --- symbol decoding --------------------------------------------------------------------

# Upper-cased input char -> symbol value; Crockford aliases I, L -> 1 and O -> 0. U is absent.
_DECODE: dict[str, int] = {ch: v for v, ch in enumerate(ALPHABET)}
_DECODE.update({"I": 1, "L": 1, "O": 0})


def _symbols(text: object) -> list[int]:
    """Symbol values of a code that passes the syntax and check-symbol test; else CodeInvalid."""
    return _symbols_of(_cleaned(text))


# The canonical symbol for each accepted one: Crockford's aliases I, L -> 1 and O -> 0.
_CANONICAL = str.maketrans("ILO", "110")


def _cleaned(text: object) -> str:
    """The input upper-cased without dashes and spaces, if it has the length of a code; else CodeInvalid."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_CHARS:
        raise CodeInvalid()
    s = text.strip()
    # ASCII only: str.upper() maps some non-ASCII letters onto ASCII ones ('ß' -> 'SS').
    if not s.isascii():
        raise CodeInvalid()
    s = s.replace("-", "").replace(" ", "").upper()
    if len(s) != CODE_LENGTH:
        raise CodeInvalid()
    return s


def _symbols_of(s: str) -> list[int]:
    decode = _DECODE.get
    values = []
    total = 0
    for weighted, ch in zip(_WEIGHTED, s):
        v = decode(ch)
        if v is None:
            raise CodeInvalid()
        values.append(v)
        total ^= weighted[v]
    if total:
        raise CodeInvalid()
    return values


def _field(values: list[int], start: int, count: int) -> int:
    n = 0
    for v in values[start : start + count]:
        n = (n << 5) | v
    return n


def _dashed(chars: str) -> str:
    return f"{chars[0:5]}-{chars[5:10]}-{chars[10:15]}-{chars[15:20]}"


# --- keys -------------------------------------------------------------------------------

_BLOCK = 64  # SHA-256 block size
_IPAD = bytes.maketrans(bytes(range(256)), bytes(x ^ 0x36 for x in range(256)))
_OPAD = bytes.maketrans(bytes(range(256)), bytes(x ^ 0x5C for x in range(256)))


def _hmac_states(key: bytes, prefix: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """RFC 2104 HMAC-SHA256 split into (inner state with `prefix` fed, outer state).

    Copying two plain SHA-256 states is about twice as fast as copying an hmac object.
    Result: outer.copy().update(inner.copy().update(msg).digest()) == HMAC(key, prefix+msg).
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(key.translate(_IPAD))
    inner.update(prefix)
    outer = hashlib.sha256(key.translate(_OPAD))
    return inner, outer


@dataclass(frozen=True)
class Keyring:
    """MAC keys by key version (0..31) and the version used to mint new codes.

    Old versions stay in the ring so codes printed under them keep verifying.
    `repr` never shows key material.
    """

    keys: Mapping[int, bytes] = field(repr=False)
    current: int
    # Per-version HMAC states with b"qrc1" + version already fed, set by __post_init__.
    _states: Mapping[int, tuple[Any, Any]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.keys, Mapping) or not self.keys:
            raise ValueError("keyring needs at least one key")
        keys: dict[int, bytes] = {}
        for version, key in self.keys.items():
            if type(version) is not int or not 0 <= version <= VERSION_MAX:
                raise ValueError(f"key version must be an integer 0..{VERSION_MAX}")
            if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
                raise ValueError(f"key version {version} must be at least {MIN_KEY_BYTES} bytes")
            keys[version] = key
        if type(self.current) is not int or self.current not in keys:
            raise ValueError("current key version is not in the keyring")
        object.__setattr__(self, "keys", MappingProxyType(keys))
        states = {v: _hmac_states(k, _MAC_DOMAIN + bytes([v])) for v, k in keys.items()}
        object.__setattr__(self, "_states", MappingProxyType(states))

    def __repr__(self) -> str:
        return f"Keyring(versions={sorted(self.keys)}, current={self.current})"

    def __hash__(self) -> int:
        return hash((self.current, frozenset(self.keys.items())))

    def __reduce__(self) -> tuple:
        # copy, deepcopy and pickle rebuild from the keys (hash states are not picklable).
        return (self.__class__, (dict(self.keys), self.current))

    @classmethod
    def from_config(cls, text: str) -> Keyring:
        """Parse `"<version>:<base64url key>,...;current=<version>"`.

        Whitespace around items is ignored, base64 padding is optional. Errors never
        echo key material.
        """
        if not isinstance(text, str):
            raise ValueError("keyring config must be a string")
        keys_part, sep, option = text.strip().partition(";")
        name, eq, value = option.strip().partition("=")
        if not sep or not eq or name.strip() != "current":
            raise ValueError("keyring config must end with ';current=<version>'")
        current = _parse_version(value)
        keys: dict[int, bytes] = {}
        for item in keys_part.split(","):
            version_text, colon, key_text = item.strip().partition(":")
            if not colon:
                raise ValueError("keyring config items must be '<version>:<base64url key>'")
            version = _parse_version(version_text)
            if version in keys:
                raise ValueError(f"key version {version} appears twice in keyring config")
            key_text = key_text.strip()
            try:
                key = base64.b64decode(key_text + "=" * (-len(key_text) % 4), altchars=b"-_", validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"key version {version} is not valid base64url") from None
            keys[version] = key
        return cls(keys=keys, current=current)


def _parse_version(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 2):
        raise ValueError(f"key version must be an integer 0..{VERSION_MAX}")
    return int(text)


@dataclass(frozen=True)
class CodeParts:
    """What a code carries, besides its MAC tag."""

    key_version: int
    batch_number: int
    serial: int

    def __post_init__(self) -> None:
        if type(self.key_version) is not int or not 0 <= self.key_version <= VERSION_MAX:
            raise ValueError(f"key_version must be an integer 0..{VERSION_MAX}")
        if type(self.batch_number) is not int or not 1 <= self.batch_number <= BATCH_MAX:
            raise ValueError(f"batch_number must be an integer 1..{BATCH_MAX}")
        if type(self.serial) is not int or not 0 <= self.serial < SERIAL_LIMIT:
            raise ValueError(f"serial must be an integer 0..{SERIAL_LIMIT - 1}")


def _tag(keyring: Keyring, version: int, batch_number: int, serial: int) -> bytes:
    inner, outer = keyring._states[version]
    i = inner.copy()
    i.update(batch_number.to_bytes(4, "big") + serial.to_bytes(4, "big"))
    o = outer.copy()
    o.update(i.digest())
    return o.digest()[:TAG_BYTES]


# --- public API -------------------------------------------------------------------------


def format_code(parts: CodeParts, keyring: Keyring) -> str:
    """The canonical dashed code for `parts`, tagged with key `parts.key_version`."""
    if not isinstance(parts, CodeParts):
        raise TypeError("parts must be a CodeParts")
    if parts.key_version not in keyring.keys:
        raise ValueError(f"key version {parts.key_version} is not in the keyring")
    tag = int.from_bytes(_tag(keyring, parts.key_version, parts.batch_number, parts.serial), "big")
    body = (parts.key_version << 90) | (parts.batch_number << 65) | (parts.serial << 40) | tag
    values = [(body >> (5 * (18 - i))) & 31 for i in range(19)]
    values.append(_check_value(values))
    return _dashed("".join(ALPHABET[v] for v in values))


def mint_code(keyring: Keyring, batch_number: int, serial: int, *, key_version: int | None = None) -> str:
    """The code of `serial` in batch `batch_number`, under `key_version` (default: the
    keyring's current version; pass the batch's recorded version to re-create its codes)."""
    version = keyring.current if key_version is None else key_version
    return format_code(CodeParts(version, batch_number, serial), keyring)


def iter_codes(
    keyring: Keyring, batch_number: int, start: int, stop: int, *, key_version: int | None = None
) -> Iterator[tuple[int, str]]:
    """Yield `(serial, code)` for serials `start <= serial < stop`; same codes as `mint_code`.

    Everything fixed per batch (and per run of 32 serials) is computed once, so each code
    costs one HMAC finish plus a few table lookups. Arguments are checked on call.
    """
    version = keyring.current if key_version is None else key_version
    CodeParts(version, batch_number, 0)  # validates version and batch
    if version not in keyring.keys:
        raise ValueError(f"key version {version} is not in the keyring")
    if type(start) is not int or type(stop) is not int or not 0 <= start <= stop <= SERIAL_LIMIT:
        raise ValueError(f"need 0 <= start <= stop <= {SERIAL_LIMIT}")
    return _iter_codes(keyring, version, batch_number, start, stop)


# Symbol pairs for every 10-bit value, and their contribution to the check symbol at
# each symbol position pair (p, p + 1) where a 10-bit chunk of serial or tag lands.
_PAIRS = tuple(ALPHABET[n >> 5] + ALPHABET[n & 31] for n in range(1024))


@functools.cache
def _pair_check(pos: int) -> tuple[int, ...]:
    a, b = _CHECK_PART[pos], _CHECK_PART[pos + 1]
    return tuple(a[n >> 5] ^ b[n & 31] for n in range(1024))


def _iter_codes(keyring: Keyring, version: int, batch_number: int, start: int, stop: int) -> Iterator[tuple[int, str]]:
    inner0, outer = keyring._states[version]
    batch_inner = inner0.copy()
    batch_inner.update(batch_number.to_bytes(4, "big"))
    outer_copy = outer.copy
    alphabet = ALPHABET
    pairs = _PAIRS
    # Fixed symbols: version (pos 0) and batch (pos 1..5).
    head = [version] + [(batch_number >> (5 * (4 - i))) & 31 for i in range(5)]
    head_check = _check_value(head + [0] * 13)
    head_text = "".join(alphabet[v] for v in head)
    prefix = head_text[:5] + "-" + head_text[5]
    # Serial: positions 6..10 = (serial >> 15) at 6,7; (serial >> 5) & 1023 at 8,9; serial & 31 at 10.
    s67, s89, s10 = _pair_check(6), _pair_check(8), _CHECK_PART[10]
    # Tag (40 bits): 10-bit chunks at positions 11,12 / 13,14 / 15,16 / 17,18.
    t11, t13, t15, t17 = _pair_check(11), _pair_check(13), _pair_check(15), _pair_check(17)
    from_bytes = int.from_bytes
    low_bytes = tuple(bytes([n]) for n in range(256))

    serial = start
    while serial < stop:
        hi = serial >> 5
        block_stop = min(stop, (hi + 1) << 5)
        block_text = f"{prefix}{pairs[hi >> 10]}{pairs[hi & 1023]}-"
        block_check = head_check ^ s67[hi >> 10] ^ s89[hi & 1023]
        block_inner = batch_inner.copy()
        block_inner.update((serial >> 8).to_bytes(3, "big"))
        inner_copy = block_inner.copy
        for s in range(serial, block_stop):
            i = inner_copy()
            i.update(low_bytes[s & 255])
            o = outer_copy()
            o.update(i.digest())
            t = from_bytes(o.digest()[:5], "big")
            a, b, c, d = t >> 30, (t >> 20) & 1023, (t >> 10) & 1023, t & 1023
            lo = s & 31
            chk = block_check ^ s10[lo] ^ t11[a] ^ t13[b] ^ t15[c] ^ t17[d]
            yield s, f"{block_text}{alphabet[lo]}{pairs[a]}{pairs[b]}-{pairs[c]}{pairs[d]}{alphabet[chk]}"
        serial = block_stop


def normalize_code(text: str) -> str:
    """The canonical dashed upper-case form of `text` after the syntax and check-symbol
    test only (no key needed, MAC not checked); raises CodeInvalid."""
    return _dashed("".join(ALPHABET[v] for v in _symbols(text)))


def parse_code(text: str, keyring: Keyring) -> CodeParts:
    """The parts of a genuine code; raises CodeInvalid (and nothing else) otherwise.

    Case-insensitive; '-' and spaces are ignored; I and L read as 1, O as 0.
    """
    return _verified(_symbols(text), keyring)


def read_code(text: str, keyring: Keyring) -> tuple[CodeParts, str]:
    """The parts of a genuine code and its canonical dashed form (what `format_code` gives for
    them, without computing the tag again); raises CodeInvalid (and nothing else) otherwise."""
    cleaned = _cleaned(text)
    return _verified(_symbols_of(cleaned), keyring), _dashed(cleaned.translate(_CANONICAL))


def _verified(values: list[int], keyring: Keyring) -> CodeParts:
    version = values[0]
    batch_number = _field(values, 1, 5)
    serial = _field(values, 6, 5)
    if batch_number == 0 or version not in keyring.keys:
        raise CodeInvalid()
    tag = _field(values, 11, 8).to_bytes(TAG_BYTES, "big")
    if not hmac.compare_digest(tag, _tag(keyring, version, batch_number, serial)):
        raise CodeInvalid()
    return CodeParts(version, batch_number, serial)


# Characters of the QR alphanumeric mode; an upper-cased URL made only of these encodes
# at 5.5 bits per character instead of 8.
_QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


@functools.lru_cache(maxsize=16)
def _url_prefix(base_url: str) -> str:
    prefix = base_url.strip().rstrip("/").upper() + "/S/"
    if not set(prefix) <= _QR_ALPHANUMERIC or "://" not in prefix:
        raise ValueError("base URL must be an absolute URL of QR alphanumeric characters only")
    return prefix


def code_url(base_url: str, code: str) -> str:
    """The QR payload `<BASE_URL>/S/<CODE>`, all upper case (QR alphanumeric mode).

    Host names are case-insensitive; the landing route accepts /s/ and /S/ and any case
    of the code. A path in `base_url` is upper-cased too, so it must be routable that way.
    """
    return _url_prefix(base_url) + code.upper()


def claimed_batch_number(text: object) -> int | None:
    """The batch number a code that failed verification says it is of, when it reads as a code at all:
    only for attributing a guess to a batch already known, never trusted for anything else."""
    try:
        return _field(_symbols(text), 1, 5) or None
    except CodeInvalid:
        return None
