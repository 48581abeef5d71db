"""Unit tests of chalicelib.domain.codes: format, check symbol, MAC, keyring, parsing robustness."""

from __future__ import annotations

import base64
import copy
import hmac
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import codes
from chalicelib.domain.codes import (
    ALPHABET,
    BATCH_MAX,
    SERIAL_LIMIT,
    CodeInvalid,
    CodeParts,
    Keyring,
    code_url,
    format_code,
    iter_codes,
    mint_code,
    normalize_code,
    parse_code,
    read_code,
)

KEY1 = bytes(range(32))  # the worked example's key in docs/codes.md
KEY2 = bytes(range(100, 164))
KEY7 = b"\xfb\xef\xbe\xff\xff\xff" * 14  # 84 bytes, longer than a SHA-256 block: HMAC hashes it first
KEY1_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

RING = Keyring({1: KEY1, 2: KEY2, 7: KEY7}, current=2)
FAST = settings(deadline=None, max_examples=200)


# --- an independent reference implementation of the documented format ----------------------


def ref_gf_mul(a: int, b: int) -> int:
    """Carry-less multiply, reduced modulo x^5 + x^2 + 1."""
    r = 0
    for bit in range(5):
        if b >> bit & 1:
            r ^= a << bit
    for bit in range(9, 4, -1):
        if r >> bit & 1:
            r ^= 0b100101 << (bit - 5)
    return r


def ref_alpha_pow(n: int) -> int:
    r = 1
    for _ in range(n):
        r = ref_gf_mul(r, 2)
    return r


REF_WEIGHTS = [ref_alpha_pow(i + 1) for i in range(20)]  # alpha^1 .. alpha^20


def ref_weighted_sum(values: list[int]) -> int:
    s = 0
    for w, v in zip(REF_WEIGHTS, values):
        s ^= ref_gf_mul(w, v)
    return s


def ref_with_check(body: list[int]) -> str:
    """19 body values -> the 20-symbol dashed code whose full weighted sum is 0."""
    assert len(body) == 19
    partial = ref_weighted_sum(body)
    (check,) = [c for c in range(32) if partial ^ ref_gf_mul(REF_WEIGHTS[19], c) == 0]
    s = "".join(ALPHABET[v] for v in body + [check])
    return "-".join(s[i : i + 5] for i in range(0, 20, 5))


def ref_values(n: int, count: int) -> list[int]:
    return [(n >> (5 * (count - 1 - i))) & 31 for i in range(count)]


def ref_code(key: bytes, version: int, batch: int, serial: int, tag: bytes | None = None) -> str:
    if tag is None:
        msg = b"qrc1" + bytes([version]) + batch.to_bytes(4, "big") + serial.to_bytes(4, "big")
        tag = hmac.new(key, msg, "sha256").digest()[:5]
    body = [version] + ref_values(batch, 5) + ref_values(serial, 5) + ref_values(int.from_bytes(tag, "big"), 8)
    return ref_with_check(body)


def undashed(code: str) -> str:
    return code.replace("-", "")


def dashed(s: str) -> str:
    return "-".join(s[i : i + 5] for i in range(0, 20, 5))


def sample_codes(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    return [mint_code(RING, rnd.randint(1, BATCH_MAX), rnd.randrange(SERIAL_LIMIT)) for _ in range(n)]


# --- format and round trip ------------------------------------------------------------------


def test_worked_example_from_docs() -> None:
    ring = Keyring.from_config(f"1:{KEY1_B64};current=1")
    code = mint_code(ring, 42, 7)
    assert code == "10001-A0000-7AJSP-4M4VP"
    assert code == ref_code(KEY1, 1, 42, 7)
    assert parse_code(code, ring) == CodeParts(1, 42, 7)
    assert code_url("https://qr.example.com", code) == "HTTPS://QR.EXAMPLE.COM/S/10001-A0000-7AJSP-4M4VP"


@pytest.mark.parametrize(
    "version,batch,serial",
    [(1, 1, 0), (2, BATCH_MAX, SERIAL_LIMIT - 1), (7, 123456, 9_999_999), (2, 42, 31), (2, 42, 32)],
)
def test_round_trip_matches_reference(version: int, batch: int, serial: int) -> None:
    code = format_code(CodeParts(version, batch, serial), RING)
    assert code == ref_code(RING.keys[version], version, batch, serial)
    assert len(code) == 23 and code == code.upper()
    assert [len(g) for g in code.split("-")] == [5, 5, 5, 5]
    assert parse_code(code, RING) == CodeParts(version, batch, serial)
    assert normalize_code(code) == code


def test_mint_code_uses_current_version() -> None:
    code = mint_code(RING, 5, 6)
    assert code[0] == "2"
    assert parse_code(code, RING).key_version == 2


@FAST
@given(
    version=st.sampled_from(sorted(RING.keys)),
    batch=st.integers(1, BATCH_MAX),
    serial=st.integers(0, SERIAL_LIMIT - 1),
)
def test_parse_inverts_format(version: int, batch: int, serial: int) -> None:
    parts = CodeParts(version, batch, serial)
    assert parse_code(format_code(parts, RING), RING) == parts


@FAST
@given(
    version=st.sampled_from(sorted(RING.keys)),
    batch=st.integers(1, BATCH_MAX),
    serial=st.integers(0, SERIAL_LIMIT - 1),
    spelling=st.sampled_from([str.lower, str.upper, lambda c: c.replace("-", ""), lambda c: c.replace("1", "l")]),
)
def test_read_code_gives_the_parts_and_the_formatted_code_however_it_was_typed(version, batch, serial, spelling):
    parts = CodeParts(version, batch, serial)
    canonical = format_code(parts, RING)
    assert read_code(spelling(canonical), RING) == (parts, canonical)


@pytest.mark.parametrize(
    "start,stop",
    [(0, 100), (5, 70), (31, 33), (250, 530), (10, 10), (SERIAL_LIMIT - 40, SERIAL_LIMIT), (9_999_990, 10_000_000)],
)
def test_iter_codes_equals_mint_code(start: int, stop: int) -> None:
    got = list(iter_codes(RING, 98765, start, stop))
    assert got == [(s, mint_code(RING, 98765, s)) for s in range(start, stop)]


def test_iter_codes_are_distinct_and_valid() -> None:
    got = [c for _, c in iter_codes(RING, 3, 0, 2000)]
    assert len(set(got)) == 2000
    assert [parse_code(c, RING).serial for c in got] == list(range(2000))


@pytest.mark.parametrize(
    "args",
    [(0, 0, 1), (1, -1, 5), (1, 5, 4), (1, 0, SERIAL_LIMIT + 1), (BATCH_MAX + 1, 0, 1), (1, 0.0, 1)],
)
def test_iter_codes_validates(args: tuple) -> None:
    with pytest.raises(ValueError):
        iter_codes(RING, *args)


def test_format_validates() -> None:
    with pytest.raises(ValueError):
        format_code(CodeParts(3, 1, 1), RING)  # version not in keyring
    with pytest.raises(TypeError):
        format_code((2, 1, 1), RING)  # type: ignore[arg-type]
    for bad in [
        (32, 1, 0),
        (-1, 1, 0),
        (1, 0, 0),
        (1, BATCH_MAX + 1, 0),
        (1, 1, -1),
        (1, 1, SERIAL_LIMIT),
        (True, 1, 0),
    ]:
        with pytest.raises(ValueError):
            CodeParts(*bad)
    with pytest.raises(ValueError):
        mint_code(RING, 0, 1)


# --- the check symbol -----------------------------------------------------------------------


def test_gf32_tables_match_reference() -> None:
    assert sorted(ref_alpha_pow(i) for i in range(31)) == list(range(1, 32))  # alpha is primitive
    for a in range(32):
        for b in range(32):
            assert codes._gf_mul(a, b) == ref_gf_mul(a, b)


def test_every_substitution_and_adjacent_swap_is_caught_by_the_check_symbol() -> None:
    for code in sample_codes(12) + [mint_code(RING, 1, 0)]:
        s = undashed(code)
        for pos in range(20):
            for ch in ALPHABET:
                if ch != s[pos]:
                    with pytest.raises(CodeInvalid):
                        normalize_code(s[:pos] + ch + s[pos + 1 :])
        for pos in range(19):
            if s[pos] != s[pos + 1]:
                with pytest.raises(CodeInvalid):
                    normalize_code(s[:pos] + s[pos + 1] + s[pos] + s[pos + 2 :])


def test_every_transposition_at_any_distance_is_caught() -> None:
    # Bonus property: all 20 weights alpha^1..alpha^20 are distinct.
    for code in sample_codes(5, seed=2):
        s = list(undashed(code))
        for i in range(20):
            for j in range(i + 1, 20):
                if s[i] != s[j]:
                    t = s.copy()
                    t[i], t[j] = t[j], t[i]
                    with pytest.raises(CodeInvalid):
                        normalize_code("".join(t))


def test_random_right_shape_strings_are_rejected() -> None:
    rnd = random.Random(7)
    for _ in range(10_000):
        text = dashed("".join(rnd.choice(ALPHABET) for _ in range(20)))
        with pytest.raises(CodeInvalid):
            parse_code(text, RING)


def test_random_bodies_with_valid_check_symbol_are_rejected_by_the_mac() -> None:
    rnd = random.Random(8)
    for _ in range(2_000):
        body = [rnd.choice(sorted(RING.keys))] + [rnd.randrange(32) for _ in range(18)]
        text = ref_with_check(body)
        assert normalize_code(text) == text
        with pytest.raises(CodeInvalid):
            parse_code(text, RING)


def test_one_character_mutations_are_rejected() -> None:
    rnd = random.Random(9)
    valid = sample_codes(200, seed=3)
    pool = ALPHABET + "ILOU!*_.#é0aZ "
    mutations = 0
    while mutations < 10_000:
        code = rnd.choice(valid)
        pos = rnd.choice([i for i, c in enumerate(code) if c != "-"])
        ch = rnd.choice(pool)
        if normalize_value(ch) == normalize_value(code[pos]):
            continue  # same symbol (alias or itself): not a mutation
        mutations += 1
        with pytest.raises(CodeInvalid):
            parse_code(code[:pos] + ch + code[pos + 1 :], RING)


def normalize_value(ch: str) -> int | None:
    return codes._DECODE.get(ch.upper()) if ch.isascii() else None


# --- parsing: aliases, case, separators, hostile input ---------------------------------------


def test_case_aliases_and_separators() -> None:
    code = mint_code(Keyring({1: KEY1}, current=1), 1, 1)  # version 1, batch "00001": has 0s and 1s
    ring = Keyring({1: KEY1}, current=1)
    s = undashed(code)
    assert "0" in s and "1" in s
    expected = parse_code(code, ring)
    variants = [
        code.lower(),
        s,
        s.lower(),
        f"  {code}\n",
        "\t" + " ".join(code.split("-")) + " ",
        s.replace("1", "I").replace("0", "O"),
        s.replace("1", "l").replace("0", "o"),
        s.replace("1", "i"),
        "-".join(s),  # dashes anywhere
    ]
    for v in variants:
        assert parse_code(v, ring) == expected, v
        assert normalize_code(v) == code, v


@pytest.mark.parametrize(
    "transform",
    [
        lambda s: s.replace("1", "U", 1),
        lambda s: s.replace("1", "ı", 1),  # dotless i upper-cases to I
        lambda s: s.replace("1", "１", 1),  # full-width digit
        lambda s: s[:7] + "\t" + s[7:],  # only '-' and ' ' are separators inside
        lambda s: s[:7] + "_" + s[7:],
        lambda s: s + "0",
        lambda s: s[:-1],
        lambda s: "",
        lambda s: "    -----   ",
    ],
)
def test_malformed_text_is_rejected(transform) -> None:
    ring = Keyring({1: KEY1}, current=1)
    s = undashed(mint_code(ring, 1, 1))
    with pytest.raises(CodeInvalid) as info:
        parse_code(transform(s), ring)
    assert str(info.value) == "This code is not valid."


def test_long_s_does_not_upper_case_into_a_valid_symbol() -> None:
    code = next(c for _, c in iter_codes(RING, 77, 0, 1000) if "S" in c)
    with pytest.raises(CodeInvalid):
        parse_code(code.replace("S", "ſ", 1), RING)  # 'ſ'.upper() == 'S'


@pytest.mark.parametrize("value", [None, b"10001-A0000-7AJSP-4M4VP", 12345, ["x"], "A" * 65, "-" * 10**6, "7" * 10**7])
def test_non_text_and_huge_input_is_rejected(value: object) -> None:
    with pytest.raises(CodeInvalid):
        parse_code(value, RING)  # type: ignore[arg-type]
    with pytest.raises(CodeInvalid):
        normalize_code(value)  # type: ignore[arg-type]


def test_length_cap_allows_generous_spacing() -> None:
    code = mint_code(RING, 9, 9)
    assert parse_code("  " + " - ".join(code.split("-")) + "  ", RING) == CodeParts(2, 9, 9)


def _only_code_invalid(text: object) -> None:
    try:
        parse_code(text, RING)  # type: ignore[arg-type]
    except CodeInvalid:
        pass
    try:
        normalize_code(text)  # type: ignore[arg-type]
    except CodeInvalid:
        pass


@FAST
@given(st.text())
def test_arbitrary_text_only_raises_code_invalid(text: str) -> None:
    _only_code_invalid(text)


@FAST
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decoded_only_raise_code_invalid(data: bytes) -> None:
    _only_code_invalid(data.decode("utf-8", errors="surrogateescape"))
    _only_code_invalid(data.decode("latin-1"))


@FAST
@given(st.text(alphabet=ALPHABET + "iloIOLU -\t\u0131\u017f", min_size=18, max_size=30))
def test_code_like_text_only_raises_code_invalid(text: str) -> None:
    _only_code_invalid(text)


# --- MAC and keys ---------------------------------------------------------------------------


def test_tag_is_hmac_sha256_prefix_for_short_and_long_keys() -> None:
    for version, key in RING.keys.items():
        msg = b"qrc1" + bytes([version]) + (5).to_bytes(4, "big") + (9).to_bytes(4, "big")
        assert codes._tag(RING, version, 5, 9) == hmac.new(key, msg, "sha256").digest()[:5]


def test_tampered_tag_with_recomputed_check_symbol_is_rejected_by_the_mac() -> None:
    for code in sample_codes(50, seed=4):
        parts = parse_code(code, RING)
        values = [codes._DECODE[c] for c in undashed(code)][:19]
        for pos in (11, 14, 18):  # tag symbols
            tampered = values.copy()
            tampered[pos] ^= 1
            text = ref_with_check(tampered)
            assert normalize_code(text) == text  # the check symbol alone cannot tell
            with pytest.raises(CodeInvalid):
                parse_code(text, RING)
        # Moving a genuine tag to another serial or batch fails too.
        tag = int.from_bytes(codes._tag(RING, parts.key_version, parts.batch_number, parts.serial), "big")
        other_serial = (parts.serial + 1) % SERIAL_LIMIT
        forged = ref_code(b"", parts.key_version, parts.batch_number, other_serial, tag.to_bytes(5, "big"))
        with pytest.raises(CodeInvalid):
            parse_code(forged, RING)


def test_batch_zero_is_rejected_even_with_a_genuine_mac() -> None:
    code = ref_code(KEY2, 2, 0, 5)
    assert normalize_code(code) == code
    with pytest.raises(CodeInvalid):
        parse_code(code, RING)


def test_key_rotation_keeps_old_codes_valid() -> None:
    old_ring = Keyring({1: KEY1}, current=1)
    old_code = mint_code(old_ring, 10, 20)
    new_ring = Keyring({1: KEY1, 2: KEY2}, current=2)
    new_code = mint_code(new_ring, 10, 20)
    assert old_code[0] == "1" and new_code[0] == "2" and old_code != new_code
    assert parse_code(old_code, new_ring) == CodeParts(1, 10, 20)
    assert parse_code(new_code, new_ring) == CodeParts(2, 10, 20)
    assert next(iter_codes(new_ring, 10, 20, 21)) == (20, new_code)
    # A batch minted under version 1 re-exports the same codes after rotation.
    assert mint_code(new_ring, 10, 20, key_version=1) == old_code
    assert list(iter_codes(new_ring, 10, 20, 21, key_version=1)) == [(20, old_code)]
    with pytest.raises(ValueError):
        iter_codes(new_ring, 10, 0, 1, key_version=3)
    with pytest.raises(ValueError):
        mint_code(new_ring, 10, 0, key_version=3)
    with pytest.raises(CodeInvalid):  # retired version: its codes stop verifying
        parse_code(old_code, Keyring({2: KEY2}, current=2))


def test_unknown_version_and_wrong_key_are_rejected() -> None:
    other = Keyring({5: b"k" * 32, 2: b"x" * 32}, current=5)
    with pytest.raises(CodeInvalid):
        parse_code(mint_code(other, 1, 1), RING)  # version 5 unknown
    with pytest.raises(CodeInvalid):
        parse_code(format_code(CodeParts(2, 1, 1), other), RING)  # version 2, other key


def test_keyring_validation() -> None:
    with pytest.raises(ValueError):
        Keyring({}, current=1)
    with pytest.raises(ValueError):
        Keyring({1: b"k" * 31}, current=1)
    with pytest.raises(ValueError):
        Keyring({1: "k" * 40}, current=1)  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        Keyring({32: b"k" * 32}, current=32)
    with pytest.raises(ValueError):
        Keyring({-1: b"k" * 32}, current=-1)
    with pytest.raises(ValueError):
        Keyring({True: b"k" * 32}, current=True)  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        Keyring({1: b"k" * 32}, current=2)
    Keyring({0: b"k" * 32, 31: b"j" * 32}, current=31)


def test_keyring_is_immutable_and_hides_keys() -> None:
    keys = {1: KEY1}
    ring = Keyring(keys, current=1)
    keys[1] = b"z" * 32
    keys[2] = b"y" * 32
    assert dict(ring.keys) == {1: KEY1}
    with pytest.raises(TypeError):
        ring.keys[3] = b"w" * 32  # type: ignore[index]
    assert repr(ring) == "Keyring(versions=[1], current=1)"
    assert KEY1_B64 not in repr(ring) and repr(KEY1) not in repr(ring)
    assert Keyring({1: KEY1}, current=1) == ring
    assert hash(Keyring({1: KEY1}, current=1)) == hash(ring)
    assert Keyring({1: KEY1, 2: KEY2}, current=1) != ring
    for clone in (copy.copy(ring), copy.deepcopy(ring), pickle.loads(pickle.dumps(ring))):
        assert clone == ring
        assert parse_code(mint_code(clone, 4, 4), ring) == CodeParts(1, 4, 4)


def test_keyring_from_config() -> None:
    k2 = base64.urlsafe_b64encode(KEY2).decode()  # padded form is accepted too
    ring = Keyring.from_config(f" 1:{KEY1_B64} , 2:{k2} ; current = 2\n")
    assert dict(ring.keys) == {1: KEY1, 2: KEY2} and ring.current == 2
    k7 = base64.urlsafe_b64encode(KEY7).rstrip(b"=").decode()
    assert "-" in k7 and "_" in k7  # exercises the URL-safe alphabet
    assert Keyring.from_config(f"7:{k7};current=7").keys[7] == KEY7
    # '+' and '/' of standard base64 mean the same as '-' and '_': accepted too.
    assert Keyring.from_config(f"7:{k7.replace('-', '+').replace('_', '/')};current=7").keys[7] == KEY7


@pytest.mark.parametrize(
    "text",
    [
        "",
        f"1:{KEY1_B64}",  # current missing
        f"1:{KEY1_B64};current=2",  # current not present
        f"1:{KEY1_B64};latest=1",
        f"1:{KEY1_B64},1:{KEY1_B64};current=1",  # duplicate
        f"x:{KEY1_B64};current=1",
        f"32:{KEY1_B64};current=32",
        f"1{KEY1_B64};current=1",
        f"1:{KEY1_B64[:-2]}.*;current=1",  # not base64
        f"1:{KEY1_B64}===;current=1",  # bad padding
        f"1:{KEY1_B64[:20]};current=1",  # too short
        "1:;current=1",
    ],
)
def test_keyring_from_config_errors(text: str) -> None:
    with pytest.raises(ValueError) as info:
        Keyring.from_config(text)
    assert KEY1_B64[:20] not in str(info.value)


# --- URLs -----------------------------------------------------------------------------------


def test_code_url() -> None:
    code = mint_code(RING, 1, 2)
    assert code_url("https://qr.example.com/", code) == f"HTTPS://QR.EXAMPLE.COM/S/{code}"
    assert code_url("http://127.0.0.1:8000", code.lower()) == f"HTTP://127.0.0.1:8000/S/{code}"
    url = code_url("https://qr.example.com", code)
    assert set(url) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    for bad in ["https://qr.example.com/?a=b", "https://qr_example.com", "qr.example.com", "https://qr.example.cöm"]:
        with pytest.raises(ValueError):
            code_url(bad, code)
