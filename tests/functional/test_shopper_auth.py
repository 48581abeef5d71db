"""Shopper sign-in over moto: codes by SMS, sessions, tokens kept apart from operators', limits, no clear numbers."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from openapi_schema_validator import OAS31Validator

from chalicelib.adapters import models, secrets, sms
from chalicelib.adapters.models import OtpChallenge, ShopperAccount
from chalicelib.adapters.secrets import get_phone_hash_pepper, get_shopper_jwt_secret
from chalicelib.config import Settings, get_settings
from chalicelib.domain import phones
from chalicelib.domain.errors import InvalidInput, LimitReached, Unauthorized
from chalicelib.services import shoppers
from chalicelib.services.auth import authenticate_operator
from tests.functional.test_openapi import SPEC
from tests.support import operator_token, shopper_token

PHONE = "0912 345 678"
E164 = "+84912345678"
MASKED = "+84 ••• ••• 678"
# The national significant number: the part of a phone number that must never be stored or logged.
DIGITS = "912345678"
IP = "203.0.113.7"
GENERIC_401 = {"error": {"code": "unauthorized", "message": "Missing or invalid credentials."}}


@contextlib.contextmanager
def environment(**values: str) -> Iterator[Settings]:
    """Process settings read from an environment with `values` set, for the routes to use.

    Settings are read here, outside any request: chalice's test client swaps in the dev
    stage's variables for the length of each request, and they must never be cached.
    """
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in values.items():
                patch.setenv(name, value)
            get_settings.cache_clear()
            yield get_settings()
    finally:
        get_settings.cache_clear()
        get_settings()


@pytest.fixture
def outbox(store) -> Iterator[sms.RecordingSender]:
    """The routes send SMS to the in-memory recorder, emptied for this test."""
    with environment(SMS_SENDER="memory"):
        recorder = sms.memory_sender()
        recorder.clear()
        yield recorder
        recorder.clear()


@pytest.fixture
def settings(store) -> Settings:
    """The domain's settings for direct calls: this test's tables, the recorder as sender."""
    sms.memory_sender().clear()
    return replace(store, sms_sender="memory")


def last_code(recorder: sms.RecordingSender, to: str = E164) -> str:
    messages = recorder.to(to)
    assert messages, f"no SMS to {to}"
    return re.search(r"\b(\d{6})\b", messages[-1].text).group(1)


def ask(api, phone: str = PHONE, expect: int = 202):
    return api.json("POST", "/v1/shopper/otp", {"phone": phone}, token="", expect=expect)


def sign_in(api, otp: str, phone: str = PHONE, expect: int = 200):
    return api.json("POST", "/v1/shopper/session", {"phone": phone, "otp": otp}, token="", expect=expect)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def check_spec(instance, path: str, status: str) -> None:
    schema = SPEC["paths"][path]["post"]["responses"][status]["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": SPEC["components"]}).validate(instance)


def all_items() -> str:
    """Every item of every table, as one JSON text (the models are bound to this test's tables)."""
    items = []
    for model in models.ALL_MODELS:
        client = boto3.client("dynamodb", region_name=model.Meta.region, endpoint_url=model.Meta.host)
        items.extend(client.scan(TableName=model.Meta.table_name, ConsistentRead=True)["Items"])
    return json.dumps(items, ensure_ascii=False)


def test_sign_in_with_a_code_sent_by_sms(api, outbox):
    answer = ask(api)
    assert answer == {"sent": True, "expires_in": 300, "phone": MASKED}
    check_spec(answer, "/v1/shopper/otp", "202")
    assert len(outbox.messages) == 1 and outbox.messages[0].to == E164
    code = last_code(outbox)
    assert re.fullmatch(r"\d{6}", code)

    session = sign_in(api, code)
    check_spec(session, "/v1/shopper/session", "200")
    claims = jwt.decode(session["token"], options={"verify_signature": False})
    assert claims["aud"] == "qr-campaigns-shopper" and claims["sub"] == session["shopper_id"]
    assert claims["exp"] - claims["iat"] == 7200
    assert session["token_type"] == "Bearer" and session["phone"] == MASKED
    shopper = shoppers.authenticate_shopper(f"Bearer {session['token']}", get_settings())
    assert shopper == shoppers.Shopper(shopper_id=session["shopper_id"], phone_masked=MASKED)
    account = ShopperAccount.get(session["shopper_id"])
    assert (account.phone_masked, account.created_at) == (MASKED, account.last_sign_in_at)

    # The same number typed another way is the same shopper; the account keeps its first sign-in.
    ask(api, "+84 912-345-678")
    again = sign_in(api, last_code(outbox), phone="84912345678")
    assert again["shopper_id"] == session["shopper_id"]
    assert ShopperAccount.get(session["shopper_id"]).created_at == account.created_at


def test_local_stage_appends_codes_to_the_outbox_file(api, store, tmp_path):
    with environment(SMS_SENDER="outbox", OUTBOX_DIR=str(tmp_path)):
        ask(api)
        ask(api, "0917 123 4567")
    lines = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["to"] for line in lines] == [E164, "+639171234567"]
    assert all(set(line) == {"to", "text", "sent_at"} for line in lines)
    code = re.search(r"\b(\d{6})\b", lines[0]["text"]).group(1)
    assert sign_in(api, code)["phone"] == MASKED


def test_shopper_tokens_are_refused_on_operator_routes(api, campaign):
    token = shopper_token()
    for method, path, body in (
        ("GET", "/v1/campaigns", None),
        ("GET", f"/v1/campaigns/{campaign['campaign_id']}", None),
        ("POST", "/v1/campaigns", {"name": "x"}),
    ):
        response = api.call(method, path, body, token=token)
        assert response.status_code == 401 and response.json_body == GENERIC_401
    with pytest.raises(Unauthorized):
        authenticate_operator(f"Bearer {token}", get_settings())


def _signed(claims: dict, key: str, algorithm: str = "HS256") -> str:
    now = int(time.time())
    base = {
        "sub": phones.shopper_id_for("0" * 64),
        "phone": MASKED,
        "aud": "qr-campaigns-shopper",
        "iss": "qr-campaigns-local",
        "iat": now,
        "exp": now + 600,
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, key, algorithm=algorithm)


def test_only_shopper_tokens_authenticate_shoppers():
    settings = get_settings()
    secret = get_shopper_jwt_secret(settings)
    assert shoppers.authenticate_shopper(f"bearer {_signed({}, secret)}", settings).phone_masked == MASKED
    refused = {
        "operator token": operator_token(),
        "operator secret with the shopper audience": _signed({}, settings.jwt_secret),
        "operator audience": _signed({"aud": settings.jwt_audience}, secret),
        "wrong issuer": _signed({"iss": "https://login.qr-campaigns.example.com/"}, secret),
        "expired": _signed({"iat": int(time.time()) - 9000, "exp": int(time.time()) - 1800}, secret),
        "no exp": _signed({"exp": None}, secret),
        "no sub": _signed({"sub": None}, secret),
        "sub not a shopper id": _signed({"sub": "user-1"}, secret),
        "no phone": _signed({"phone": None}, secret),
        "alg none": jwt.encode({"sub": "shp_x"}, None, algorithm="none"),
        "garbage": "not-a-jwt",
    }
    for name, token in refused.items():
        with pytest.raises(Unauthorized) as info:
            shoppers.authenticate_shopper(f"Bearer {token}", settings)
        assert str(info.value) == "Missing or invalid credentials.", name
    for header in (None, "", "Bearer", "Basic dXNlcjpwYXNz", f"Token {_signed({}, secret)}"):
        with pytest.raises(Unauthorized):
            shoppers.authenticate_shopper(header, settings)


def test_five_wrong_tries_spend_the_code(api, outbox):
    ask(api)
    code = last_code(outbox)
    messages = []
    for _ in range(5):
        error = sign_in(api, wrong(code), expect=400)["error"]
        assert (error["code"], error["field"]) == ("otp_invalid", "otp")
        messages.append(error["message"])
    assert "4 tries left" in messages[0] and "1 try left" in messages[3] and "last try" in messages[4]
    # Even the right code is refused now, and nothing was created.
    error = sign_in(api, code, expect=400)["error"]
    assert (error["code"], error["field"]) == ("otp_tries_exceeded", "otp")
    assert OtpChallenge.get(phones.phone_hash(E164, get_phone_hash_pepper())).tries == 5
    assert list(ShopperAccount.scan()) == []
    # A new code starts again with five tries.
    ask(api)
    assert sign_in(api, last_code(outbox))["phone"] == MASKED


def test_an_expired_code_is_refused(settings):
    start = time.time()
    shoppers.request_otp({"phone": PHONE}, IP, settings, now=start)
    code = last_code(sms.memory_sender())
    with pytest.raises(InvalidInput) as info:
        shoppers.create_session({"phone": PHONE, "otp": code}, settings, now=start + 300)
    assert (info.value.code, info.value.field) == ("otp_expired", "otp")
    assert list(ShopperAccount.scan()) == []
    assert shoppers.create_session({"phone": PHONE, "otp": code}, settings, now=start + 299)["token"]


def test_one_code_signs_in_once(api, outbox):
    ask(api)
    code = last_code(outbox)
    # Typed with spaces, as people copy it from the SMS.
    sign_in(api, f" {code[:3]} {code[3:]} ")
    error = sign_in(api, code, expect=400)["error"]
    assert (error["code"], error["field"]) == ("otp_expired", "otp")


def test_a_new_code_replaces_the_previous_one(api, outbox):
    ask(api)
    first = last_code(outbox)
    ask(api)
    second = last_code(outbox)
    if first != second:
        assert sign_in(api, first, expect=400)["error"]["code"] == "otp_invalid"
    assert sign_in(api, second)["phone"] == MASKED


def test_the_sixth_code_of_the_day_is_refused_and_not_sent(api, outbox):
    for _ in range(5):
        ask(api)
    response = api.call("POST", "/v1/shopper/otp", {"phone": "+84 912 345 678"}, token="")
    assert response.status_code == 429
    assert response.json_body["error"]["code"] == "limit_reached"
    assert response.json_body["error"]["field"] == "phone"
    assert 0 < int(response.headers["Retry-After"]) <= 86400
    assert len(outbox.messages) == 5
    # Another number is not affected.
    ask(api, "0917 123 4567")


def test_the_daily_limit_starts_again_the_next_day(settings):
    today = time.time()
    for _ in range(5):
        shoppers.request_otp({"phone": PHONE}, IP, settings, now=today)
    with pytest.raises(LimitReached):
        shoppers.request_otp({"phone": PHONE}, IP, settings, now=today)
    shoppers.request_otp({"phone": PHONE}, IP, settings, now=today + 86400)
    assert len(sms.memory_sender().messages) == 6


def test_one_address_asking_for_many_numbers_is_limited(settings):
    phones = [f"+84 912 34{i:04d}" for i in range(shoppers.OTP_PER_IP_LIMIT + 1)]
    for phone in phones[:-1]:
        shoppers.request_otp({"phone": phone}, IP, settings)
    with pytest.raises(LimitReached) as info:
        shoppers.request_otp({"phone": phones[-1]}, IP, settings)
    assert info.value.field is None and info.value.retry_after
    assert len(sms.memory_sender().messages) == shoppers.OTP_PER_IP_LIMIT
    shoppers.request_otp({"phone": phones[-1]}, "198.51.100.1", settings)


BAD_CODE_REQUESTS = [
    ({"phone": "hello"}, "phone", "phone_invalid"),
    ({"phone": "+1 415 555 2671"}, "phone", "phone_invalid"),
    ({"phone": "028 3829 2222"}, "phone", "phone_invalid"),
    ({"phone": 912345678}, "phone", "invalid_input"),
    ({"phone": ""}, "phone", "invalid_input"),
    ({"phone": "0" * 41}, "phone", "invalid_input"),
    ({}, "phone", "invalid_input"),
    ({"phone": PHONE, "brand": "x"}, "brand", "invalid_input"),
]
BAD_SESSION_REQUESTS = [
    ({"phone": PHONE, "otp": "12345"}, "otp"),
    ({"phone": PHONE, "otp": "1234567"}, "otp"),
    ({"phone": PHONE, "otp": "abcdef"}, "otp"),
    ({"phone": PHONE, "otp": 123456}, "otp"),
    ({"phone": PHONE}, "otp"),
    ({"otp": "123456"}, "phone"),
    ({"phone": "garbage", "otp": "123456"}, "phone"),
]


def test_bad_code_requests_send_and_write_nothing(api, outbox):
    # One test for every case: each moto store costs seconds to set up.
    for body, field, code in BAD_CODE_REQUESTS:
        error = api.json("POST", "/v1/shopper/otp", body, token="", expect=400)["error"]
        assert (error["field"], error["code"]) == (field, code), body
    assert outbox.messages == []
    assert all_items() == "[]"


def test_bad_session_requests_spend_no_try(api, outbox):
    error = sign_in(api, "123456", expect=400)["error"]
    assert (error["code"], error["field"]) == ("otp_expired", "otp"), "no code was asked for"
    assert all_items() == "[]"
    ask(api)
    before = all_items()
    for body, field in BAD_SESSION_REQUESTS:
        error = api.json("POST", "/v1/shopper/session", body, token="", expect=400)["error"]
        assert error["field"] == field, body
    assert all_items() == before


def test_no_clear_phone_number_in_any_table_or_log(api, outbox, caplog, monkeypatch):
    from app import app

    caplog.set_level(logging.DEBUG)
    # The access log goes to chalice's logger, which does not propagate: listen there too.
    monkeypatch.setattr(app.log, "handlers", [*app.log.handlers, caplog.handler])
    ask(api)
    code = last_code(outbox)
    sign_in(api, wrong(code), expect=400)
    session = sign_in(api, code)
    api.call("GET", "/v1/campaigns", token=session["token"])
    for _ in range(4):
        ask(api)
    api.call("POST", "/v1/shopper/otp", {"phone": PHONE}, token="")  # the refused sixth
    stored = all_items()
    assert "shp_" in stored and "+84 ••• ••• 678" in stored
    assert DIGITS not in stored
    assert any(r.name == app.log.name for r in caplog.records) and DIGITS not in caplog.text
    assert DIGITS not in session["token"] and DIGITS not in json.dumps(
        jwt.decode(session["token"], options={"verify_signature": False})
    )


def test_sns_sender_publishes_a_transactional_sms():
    with mock_aws():
        sms.SnsSender().send(E164, "Your code is 123456")
        sent = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
    assert sent == [(E164, "Your code is 123456")]


def test_sns_errors_never_carry_the_number(monkeypatch):
    class Refusing:
        def publish(self, **kwargs):
            raise ClientError(
                {
                    "Error": {
                        "Code": "InvalidParameter",
                        "Message": f"Invalid parameter: PhoneNumber {kwargs['PhoneNumber']}",
                    }
                },
                "Publish",
            )

    monkeypatch.setattr(sms, "client", lambda service: Refusing())
    with pytest.raises(sms.SmsNotSent) as info:
        sms.SnsSender().send(E164, "Your code is 123456")
    assert "InvalidParameter" in str(info.value) and DIGITS not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_secrets_come_from_ssm_once_per_container(monkeypatch):
    # Fresh names: the values are cached per container, and so per test process.
    prefix = f"/qrc-test-{uuid.uuid4().hex[:8]}"
    parameters = {
        f"{prefix}/shopper-jwt-secret": "s" * 48,
        f"{prefix}/phone-hash-pepper": "p" * 48,
        f"{prefix}/short": "short",
    }
    reads = []

    class Ssm:
        def get_parameter(self, Name, WithDecryption):  # noqa: N803 - boto3's names
            assert WithDecryption is True
            reads.append(Name)
            return {"Parameter": {"Value": parameters[Name]}}

    monkeypatch.setattr(secrets, "client", lambda service: Ssm())
    aws = Settings.from_environ(
        {
            "STAGE": "test",
            "SHOPPER_JWT_SECRET_PARAMETER": f"{prefix}/shopper-jwt-secret",
            "PHONE_HASH_PEPPER_PARAMETER": f"{prefix}/phone-hash-pepper",
        }
    )
    for _ in range(3):
        assert get_shopper_jwt_secret(aws) == "s" * 48
        assert get_phone_hash_pepper(aws) == "p" * 48
    assert sorted(reads) == [f"{prefix}/phone-hash-pepper", f"{prefix}/shopper-jwt-secret"]
    with pytest.raises(RuntimeError):
        get_shopper_jwt_secret(Settings.from_environ({"STAGE": "test"}))
    with pytest.raises(RuntimeError):
        get_phone_hash_pepper(
            Settings.from_environ({"STAGE": "test", "PHONE_HASH_PEPPER_PARAMETER": f"{prefix}/short"})
        )
