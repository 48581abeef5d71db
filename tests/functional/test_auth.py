"""Operator auth: every bad token answers 401 with one generic body; roles and algorithms pinned."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.config import get_settings
from chalicelib.domain.errors import Unauthorized
from chalicelib.services.auth import authenticate_operator

SETTINGS = get_settings()
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def _claims(**changes):
    now = int(time.time())
    claims = {
        "sub": "user-1",
        "brand": "brand-a",
        "role": "owner",
        "aud": SETTINGS.jwt_audience,
        "iss": SETTINGS.jwt_issuer,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _hs(claims=None, key=SETTINGS.jwt_secret):
    return jwt.encode(_claims() if claims is None else claims, key, algorithm="HS256")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _hs256_by_hand(key: bytes) -> str:
    # PyJWT refuses to sign with a PEM as an HMAC key, so an attacker's token is built by hand.
    signing_input = _b64({"alg": "HS256", "typ": "JWT", "kid": "key-1"}) + "." + _b64(_claims())
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).decode().rstrip("=")


def _without(name):
    return _hs({k: v for k, v in _claims().items() if k != name})


BAD_TOKENS = {
    "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + ".",
    "wrong key": _hs(key="another-secret-of-sufficient-length-0123456789"),
    "rs256 where hs256 is pinned": jwt.encode(_claims(), RSA_KEY, algorithm="RS256"),
    "expired": _hs(_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "wrong audience": _hs(_claims(aud="someone-else")),
    "wrong issuer": _hs(_claims(iss="https://evil.example.com/")),
    "missing sub": _without("sub"),
    "missing brand": _without("brand"),
    "missing role": _without("role"),
    "missing exp": _without("exp"),
    "missing iat": _without("iat"),
    "missing aud": _without("aud"),
    "missing iss": _without("iss"),
    "unknown role": _hs(_claims(role="admin")),
    "brand not a string": _hs(_claims(brand=["brand-a"])),
    "tampered payload": (lambda t: t.split(".")[0] + "." + _b64(_claims(brand="brand-b")) + "." + t.split(".")[2])(
        _hs()
    ),
    "garbage": "not-a-jwt",
    "empty bearer": "",
    "not yet valid (iat ahead)": _hs(_claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)),
    "not yet valid (nbf ahead)": _hs(_claims(nbf=int(time.time()) + 3600)),
    "a hundred years long": _hs(_claims(exp=int(time.time()) + 100 * 365 * 86400)),
    "longer than the maximum by a minute": _hs(
        _claims(exp=int(time.time()) + SETTINGS.operator_token_max_ttl_seconds + 60)
    ),
    "oversized": _hs(_claims(padding="x" * 9000)),
    "another stage's issuer": _hs(_claims(iss="qr-campaigns-dev")),
    "another stage's key": _hs(key="the-dev-stage-secret-of-sufficient-length-0123456789"),
    "hs256 signed with the rs256 public key": _hs256_by_hand(RSA_PUBLIC_PEM),
}


@pytest.fixture
def campaign_path(campaign):
    return f"/v1/campaigns/{campaign['campaign_id']}"


def test_valid_token_is_accepted(api, campaign_path):
    assert api.call("GET", campaign_path, token=_hs()).status_code == 200


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_bad_tokens_get_one_generic_401(api, campaign_path, name):
    responses = [
        api.call("GET", campaign_path, headers={"Authorization": f"Bearer {BAD_TOKENS[name]}"}, token=""),
        api.call(
            "PATCH",
            campaign_path,
            {"name": "hijacked"},
            headers={"Authorization": f"Bearer {BAD_TOKENS[name]}"},
            token="",
        ),
    ]
    for response in responses:
        assert response.status_code == 401
        assert response.json_body == {"error": {"code": "unauthorized", "message": "Missing or invalid credentials."}}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.json("GET", campaign_path)["name"] != "hijacked"


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer", "bearer  ", "Token abc"])
def test_missing_or_malformed_authorization_header(api, header):
    headers = {"Authorization": header} if header is not None else {}
    response = api.call("GET", "/v1/campaigns", headers=headers, token="")
    assert response.status_code == 401
    assert response.json_body["error"]["message"] == "Missing or invalid credentials."


@pytest.fixture(scope="module")
def rs256_settings():
    """RS256 with the key set served over HTTP on loopback, as an identity provider would."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    yield replace(SETTINGS, jwt_algorithm="RS256", jwt_secret=None, jwt_jwks_url=url)
    server.shutdown()


def _rs(claims=None, kid="key-1"):
    return jwt.encode(_claims() if claims is None else claims, RSA_KEY, algorithm="RS256", headers={"kid": kid})


def test_rs256_with_jwks_accepts_a_valid_token(rs256_settings):
    operator = authenticate_operator(f"Bearer {_rs()}", rs256_settings)
    assert (operator.sub, operator.brand, operator.role) == ("user-1", "brand-a", "owner")


@pytest.mark.parametrize(
    "token",
    [
        # The classic confusion: an HS256 token keyed with the public key must never verify.
        pytest.param(lambda: _hs256_by_hand(RSA_PUBLIC_PEM), id="hs256 signed with the public key"),
        pytest.param(lambda: _rs(_claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)), id="expired"),
        pytest.param(lambda: _rs(_claims(aud="other")), id="wrong audience"),
        pytest.param(lambda: _rs(kid="unknown-kid"), id="unknown key id"),
        pytest.param(lambda: _hs(), id="hs256 with the local secret"),
    ],
)
def test_rs256_mode_refuses(rs256_settings, token):
    with pytest.raises(Unauthorized) as excinfo:
        authenticate_operator(f"Bearer {token()}", rs256_settings)
    assert str(excinfo.value) == "Missing or invalid credentials."


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_short_hs256_secret_is_refused_at_use():
    weak = replace(SETTINGS, jwt_secret="short")
    with pytest.raises(RuntimeError):
        authenticate_operator(f"Bearer {_hs(key='short')}", weak)
