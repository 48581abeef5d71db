"""Shopper token verification: exactly what PyJWT accepts for our tokens, and nothing else."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.tokens import HEADER, TokenRefused, verify_hs256

KEY = "unit-test-shopper-key-0123456789abcdefghijkl"
AUDIENCE, ISSUER = "qr-campaigns-shopper", "qr-campaigns-local"
REQUIRED = ["exp", "iat", "aud", "iss", "sub"]
LEEWAY = 30


def _claims(**changes) -> dict:
    now = int(time.time())
    claims = {"sub": "shp_x", "phone": "+84 ••• ••• 678", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _token(claims: dict | None = None, key: str = KEY, **headers) -> str:
    # Signed as PyJWT signs, without jwt.encode's own checks of the claims (it refuses a
    # non-text iss, for one), so verification sees every shape a token could have.
    payload = json.dumps(_claims() if claims is None else claims, separators=(",", ":")).encode()
    return jwt.api_jws.encode(payload, key, algorithm="HS256", headers=headers or None)


def _verify(token: str, now: float | None = None) -> dict:
    return verify_hs256(
        token,
        KEY.encode(),
        audience=AUDIENCE,
        issuer=ISSUER,
        now=time.time() if now is None else now,
        leeway=LEEWAY,
        required=REQUIRED,
    )


def _pyjwt(token: str) -> dict:
    return jwt.decode(
        token,
        KEY,
        algorithms=["HS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=LEEWAY,
        options={"require": REQUIRED},
    )


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_pyjwt_signs_verifies_with_its_claims():
    claims = _claims()
    token = jwt.encode(claims, KEY, algorithm="HS256")
    assert token == _token(claims)
    assert _verify(token) == claims == _pyjwt(token)
    assert jwt.get_unverified_header(token) == HEADER, "PyJWT's header is the one accepted"


def test_every_forgery_and_stale_token_is_refused():
    now = int(time.time())
    header, payload, signature = _segments(_token())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tampered_payload = _b64(json.dumps(_claims(sub="shp_y")).encode())
    refused = {
        "other key": _token(key="another-key-of-thirty-two-bytes-or-more!!"),
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}",
        "alg none": jwt.encode(_claims(), None, algorithm="none"),
        "alg HS512": jwt.encode(_claims(), KEY * 2, algorithm="HS512"),
        "alg RS256": jwt.encode(_claims(), rsa_key, algorithm="RS256"),
        "extra header field": _token(kid="1"),
        "padding": f"{header}.{payload}.{signature}=",
        "four segments": f"{header}.{payload}.{signature}.{signature}",
        "two segments": f"{header}.{payload}",
        "not base64": f"{header}.{payload}!.{signature}",
        "not ascii": f"{header}.{payload}é.{signature}",
        "expired": _token(_claims(iat=now - 9000, exp=now - LEEWAY - 5)),
        "issued in the future": _token(_claims(iat=now + LEEWAY + 60)),
        "not before the future": _token(_claims(nbf=now + LEEWAY + 60)),
        "no exp": _token(_claims(exp=None)),
        "no iat": _token(_claims(iat=None)),
        "no sub": _token(_claims(sub=None)),
        "no aud": _token(_claims(aud=None)),
        "no iss": _token(_claims(iss=None)),
        "other audience": _token(_claims(aud="qr-campaigns-operator")),
        "audience list without ours": _token(_claims(aud=["a", "b"])),
        "audience not text": _token(_claims(aud=7)),
        "other issuer": _token(_claims(iss="https://login.example.com/")),
        "exp as text": _token(_claims(exp=str(now + 600))),
        "exp as bool": _token(_claims(exp=True)),
        "payload not an object": jwt.api_jws.encode(b"[1, 2]", KEY, algorithm="HS256"),
        "empty": "",
    }
    for name, token in refused.items():
        with pytest.raises(TokenRefused):
            _verify(token)
            pytest.fail(name)
    # The same signature bytes spelled another way (unused low bits of the last symbol).
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = f"{header}.{payload}.{signature[:-1]}{alphabet[last ^ 1]}"
    assert base64.urlsafe_b64decode(twin.split(".")[2] + "=") == base64.urlsafe_b64decode(signature + "=")
    with pytest.raises(TokenRefused):
        _verify(twin)


def test_leeway_and_audience_lists_follow_pyjwt():
    now = int(time.time())
    assert _verify(_token(_claims(exp=now - LEEWAY + 5)))["sub"] == "shp_x"
    assert _verify(_token(_claims(iat=now + LEEWAY - 5)))["sub"] == "shp_x"
    assert _verify(_token(_claims(aud=["x", AUDIENCE])))["aud"] == ["x", AUDIENCE]


_claim_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.sampled_from([AUDIENCE, ISSUER, "x"]), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    exp=st.one_of(st.none(), st.integers(min_value=-7200, max_value=7200)),
    iat=st.one_of(st.none(), st.integers(min_value=-7200, max_value=7200)),
    nbf=st.one_of(st.none(), st.integers(min_value=-7200, max_value=7200)),
    aud=st.one_of(st.sampled_from([AUDIENCE, "other"]), _claim_values),
    iss=st.one_of(st.sampled_from([ISSUER, "other"]), _claim_values),
    sub=st.one_of(st.just("shp_x"), _claim_values),
)
def test_accepts_exactly_what_pyjwt_accepts(exp, iat, nbf, aud, iss, sub):
    # Instants are offsets from now, kept off the leeway's edges (the two libraries read
    # the clock a moment apart).
    now = int(time.time())
    offsets = {"exp": exp, "iat": iat, "nbf": nbf}
    if any(v is not None and abs(abs(v) - LEEWAY) < 3 for v in offsets.values()):
        return
    claims = {
        name: value
        for name, value in {
            "sub": sub,
            "aud": aud,
            "iss": iss,
            **{k: None if v is None else now + v for k, v in offsets.items()},
        }.items()
        if value is not None
    }
    token = _token(claims)
    try:
        expected = _pyjwt(token)
    except jwt.PyJWTError:
        expected = None
    try:
        got = _verify(token, now=now)
    except TokenRefused:
        got = None
    assert got == expected, (claims, got, expected)


def test_a_lifetime_over_the_maximum_is_refused_and_one_at_it_verifies():
    now = int(time.time())
    common = {"audience": AUDIENCE, "issuer": ISSUER, "now": now, "leeway": LEEWAY, "max_lifetime": 600}
    at_most = _token(_claims(iat=now, exp=now + 600))
    assert verify_hs256(at_most, KEY.encode(), required=REQUIRED, **common)["exp"] == now + 600
    with pytest.raises(TokenRefused) as refused:
        verify_hs256(_token(_claims(iat=now, exp=now + 601)), KEY.encode(), required=REQUIRED, **common)
    assert refused.value.reason == "lifetime over the maximum"
    # Without iat (not required here) there is no lifetime to check: refused, not let through.
    with pytest.raises(TokenRefused) as refused:
        verify_hs256(_token(_claims(iat=None)), KEY.encode(), required=["exp"], **common)
    assert refused.value.reason == "no exp or iat"
