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
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from openapi_schema_validator import OAS31Validator

from chalicelib.adapters import models, secrets, sms
from chalicelib.adapters.models import OtpChallenge, ShopperAccount
from chalicelib.adapters.secrets import get_phone_hash_pepper, get_shopper_jwt_secret
from chalicelib.config import Settings, get_settings
from chalicelib.domain import clock, phones
from chalicelib.domain.errors import InvalidInput, LimitReached, SmsPaused, Unauthorized
from chalicelib.services import shoppers
from chalicelib.services.auth import Shopper, authenticate_operator, authenticate_shopper
from tests.functional.test_openapi import SPEC
from tests.support import CONSENT, operator_token, shopper_token, synthetic_shopper_id

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
    return api.json(
        "POST", "/v1/shopper/session", {"phone": phone, "otp": otp, "consent": CONSENT}, token="", expect=expect
    )


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
    shopper = authenticate_shopper(f"Bearer {session['token']}", get_settings())
    assert shopper == Shopper(shopper_id=session["shopper_id"], phone_masked=MASKED)
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


_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _signed(claims: dict, key: object, algorithm: str = "HS256") -> str:
    now = int(time.time())
    base = {
        "sub": synthetic_shopper_id("0" * 64),
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
    assert authenticate_shopper(f"bearer {_signed({}, secret)}", settings).phone_masked == MASKED
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
        "no iat": _signed({"iat": None}, secret),
        "no aud": _signed({"aud": None}, secret),
        "no iss": _signed({"iss": None}, secret),
        "not yet valid (iat ahead)": _signed({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 4000}, secret),
        "not yet valid (nbf ahead)": _signed({"nbf": int(time.time()) + 3600}, secret),
        "longer than a shopper session": _signed(
            {"exp": int(time.time()) + settings.shopper_token_ttl_seconds + 60}, secret
        ),
        "a year long": _signed({"exp": int(time.time()) + 365 * 86400}, secret),
        "another stage's issuer": _signed({"iss": "qr-campaigns-dev"}, secret),
        "another stage's key": _signed({}, "the-dev-stage-shopper-secret-of-length-0123456789"),
        "rs256 where hs256 is pinned": _signed({}, _RSA_KEY, algorithm="RS256"),
        "oversized": _signed({"padding": "x" * 5000}, secret),
    }
    for name, token in refused.items():
        with pytest.raises(Unauthorized) as info:
            authenticate_shopper(f"Bearer {token}", settings)
        assert str(info.value) == "Missing or invalid credentials.", name
    for header in (None, "", "Bearer", "Basic dXNlcjpwYXNz", f"Token {_signed({}, secret)}"):
        with pytest.raises(Unauthorized):
            authenticate_shopper(header, settings)


REFUSED = {
    "code": "otp_invalid",
    "message": "otp: This code is not right, or it is no longer valid. Check the SMS, or ask for a new code.",
    "field": "otp",
}


def test_five_wrong_tries_spend_the_code(api, outbox):
    ask(api)
    code = last_code(outbox)
    for _ in range(5):
        assert sign_in(api, wrong(code), expect=400)["error"] == REFUSED
    assert OtpChallenge.get(phones.phone_hash(E164, get_phone_hash_pepper())).tries == 5
    # Even the right code is refused now, with the same answer, and nothing was created.
    assert sign_in(api, code, expect=400)["error"] == REFUSED
    assert OtpChallenge.get(phones.phone_hash(E164, get_phone_hash_pepper())).tries == 5
    assert list(ShopperAccount.scan()) == []
    # Asking again sends a new code (the spent one is not sent again), with five tries.
    ask(api)
    fresh = last_code(outbox)
    assert sign_in(api, fresh)["phone"] == MASKED


def test_a_stranger_learns_nothing_about_a_numbers_sign_in(api, outbox):
    # No code pending, a wrong code for a pending one, a spent one, an expired one: one answer.
    answers = [sign_in(api, "123456", expect=400)["error"]]
    ask(api)
    code = last_code(outbox)
    answers.append(sign_in(api, wrong(code), expect=400)["error"])
    for _ in range(4):
        sign_in(api, wrong(code), expect=400)
    answers.append(sign_in(api, code, expect=400)["error"])
    assert answers == [REFUSED] * 3


def test_whether_a_number_has_an_account_changes_no_answer(api, outbox):
    """Asking for a code and guessing one read the same for a member's number and a stranger's."""
    ask(api)
    assert sign_in(api, last_code(outbox))["phone"] == MASKED  # this number now has an account
    member, stranger = "0912 345 678", "0912 345 679"
    asked = [api.call("POST", "/v1/shopper/otp", {"phone": phone}, token="") for phone in (member, stranger)]
    assert [a.status_code for a in asked] == [202, 202]
    bodies = [json.loads(a.body) for a in asked]
    for body in bodies:
        body.pop("phone", None)  # each answer names its own (masked) number
    assert bodies[0] == bodies[1]
    assert {k: v for k, v in asked[0].headers.items()} == {k: v for k, v in asked[1].headers.items()}
    guesses = [sign_in(api, "000000", phone, expect=400) for phone in (member, stranger)]
    assert guesses == [{"error": REFUSED}] * 2


def test_an_expired_code_is_refused(settings):
    start = time.time()
    shoppers.request_otp({"phone": PHONE}, IP, settings, now=start)
    code = last_code(sms.memory_sender())
    with pytest.raises(InvalidInput) as info:
        shoppers.create_session({"phone": PHONE, "otp": code, "consent": CONSENT}, settings, now=start + 300)
    assert info.value.to_dict() == REFUSED
    assert list(ShopperAccount.scan()) == []
    assert shoppers.create_session({"phone": PHONE, "otp": code, "consent": CONSENT}, settings, now=start + 299)[
        "token"
    ]


def test_one_code_signs_in_once(api, outbox):
    ask(api)
    code = last_code(outbox)
    # Typed with spaces, as people copy it from the SMS.
    sign_in(api, f" {code[:3]} {code[3:]} ")
    assert sign_in(api, code, expect=400)["error"] == REFUSED


def test_asking_again_sends_the_pending_code_so_nobody_can_cancel_it(settings):
    # A stranger asking for the owner's number, from elsewhere, texts the owner the code
    # they already hold: it still works, and no new code took its place.
    start = time.time()
    shoppers.request_otp({"phone": PHONE}, IP, settings, now=start)
    held = last_code(sms.memory_sender())
    shoppers.request_otp({"phone": PHONE}, "198.51.100.66", settings, now=start + 30)
    assert [m.text for m in sms.memory_sender().to(E164)][-1].count(held) == 1
    assert shoppers.create_session({"phone": PHONE, "otp": held, "consent": CONSENT}, settings, now=start + 60)["token"]


def test_a_code_about_to_expire_is_replaced_by_a_new_one(settings):
    start = time.time()
    shoppers.request_otp({"phone": PHONE}, IP, settings, now=start)
    first = last_code(sms.memory_sender())
    later = start + shoppers.OTP_TTL_SECONDS - shoppers.OTP_RESEND_MIN_SECONDS + 1
    shoppers.request_otp({"phone": PHONE}, IP, settings, now=later)
    second = last_code(sms.memory_sender())
    challenge = OtpChallenge.get(phones.phone_hash(E164, get_phone_hash_pepper()))
    assert challenge.expires_at.timestamp() == int(later) + shoppers.OTP_TTL_SECONDS
    if first != second:
        with pytest.raises(InvalidInput):
            shoppers.create_session({"phone": PHONE, "otp": first, "consent": CONSENT}, settings, now=later + 1)
    assert shoppers.create_session({"phone": PHONE, "otp": second, "consent": CONSENT}, settings, now=later + 1)[
        "token"
    ]


@pytest.fixture
def one_instant() -> Iterator[float]:
    """Every request of the test at one instant: a slow run must not see a limit's window roll over."""
    now = time.time()
    with clock.replaced(lambda: now):
        yield now


def test_a_fourth_code_from_one_address_in_ten_minutes_is_refused_and_not_sent(api, outbox, one_instant):
    for _ in range(shoppers.OTP_LIMITS.per_number_and_address_per_window):
        ask(api)
    response = api.call("POST", "/v1/shopper/otp", {"phone": "+84 912 345 678"}, token="")
    assert response.status_code == 429
    assert response.json_body["error"]["code"] == "limit_reached"
    assert response.json_body["error"]["field"] == "phone"
    assert 0 < int(response.headers["Retry-After"]) <= 600
    assert len(outbox.messages) == shoppers.OTP_LIMITS.per_number_and_address_per_window
    # Another number is not affected.
    ask(api, "0917 123 4567")


def test_a_stranger_cannot_spend_the_owners_allowance(settings):
    now = time.time()
    stranger, owner = "198.51.100.66", IP
    for _ in range(shoppers.OTP_LIMITS.per_number_and_address_per_window):
        shoppers.request_otp({"phone": PHONE}, stranger, settings, now=now)
    with pytest.raises(LimitReached):
        shoppers.request_otp({"phone": PHONE}, stranger, settings, now=now)
    # The owner, from their own network, still gets their code.
    shoppers.request_otp({"phone": PHONE}, owner, settings, now=now)
    assert shoppers.create_session(
        {"phone": PHONE, "otp": last_code(sms.memory_sender()), "consent": CONSENT}, settings, now=now
    )


def test_strangers_together_send_one_number_at_most_five_codes_an_hour(settings):
    now = time.time()
    addresses = [f"198.51.100.{n}" for n in range(1, 20)]
    sent = 0
    for address in addresses:
        try:
            shoppers.request_otp({"phone": PHONE}, address, settings, now=now)
            sent += 1
        except LimitReached as refused:
            assert refused.field == "phone" and 0 < refused.retry_after <= 3600
    assert sent == shoppers.OTP_LIMITS.per_number_per_hour == len(sms.memory_sender().to(E164))
    # The next hour the number may have codes again (the owner is never shut out for a day).
    shoppers.request_otp({"phone": PHONE}, IP, settings, now=now + 3600)


def test_the_window_limits_start_again_later(settings):
    today = time.time()
    for _ in range(3):
        shoppers.request_otp({"phone": PHONE}, IP, settings, now=today)
    with pytest.raises(LimitReached):
        shoppers.request_otp({"phone": PHONE}, IP, settings, now=today)
    shoppers.request_otp({"phone": PHONE}, IP, settings, now=today + 3600)
    assert len(sms.memory_sender().messages) == 4


def test_one_address_asking_for_many_numbers_is_limited(settings):
    per_window = shoppers.OTP_LIMITS.per_address_per_window
    phones = [f"+84 912 34{i:04d}" for i in range(per_window + 1)]
    # One instant for every request, a minute into a day of its own: a slow run must not
    # see the address's window roll over between the requests.
    now = 86400 * (int(time.time()) // 86400 + 20) + 60
    for phone in phones[:-1]:
        shoppers.request_otp({"phone": phone}, IP, settings, now=now)
    with pytest.raises(LimitReached) as info:
        shoppers.request_otp({"phone": phones[-1]}, IP, settings, now=now)
    assert info.value.field is None and info.value.retry_after
    assert len(sms.memory_sender().messages) == per_window
    shoppers.request_otp({"phone": phones[-1]}, "198.51.100.1", settings, now=now)


def test_spent_sms_budgets_pause_codes_for_what_they_cover(settings):
    # Each budget on a day of its own: the budgets' windows are whole UTC days and hours.
    day = 86400 * (int(time.time()) // 86400 + 10)
    country = replace(settings, sms_country_daily_budgets=(("VN", 2), ("PH", 50)))
    shoppers.request_otp({"phone": "0912 345 601"}, "198.51.100.1", country, now=day)
    shoppers.request_otp({"phone": "0912 345 602"}, "198.51.100.2", country, now=day)
    with pytest.raises(SmsPaused) as info:
        shoppers.request_otp({"phone": "0912 345 603"}, "198.51.100.3", country, now=day)
    assert info.value.code == "sms_unavailable" and 0 < info.value.retry_after <= 86400
    assert len(sms.memory_sender().messages) == 2
    shoppers.request_otp({"phone": "0917 123 4567"}, "198.51.100.4", country, now=day)  # another country still goes

    total = replace(settings, sms_daily_budget=2)
    for n in range(2):
        shoppers.request_otp({"phone": f"0917 123 45{n:02d}"}, f"198.51.101.{n}", total, now=day + 86400)
    with pytest.raises(SmsPaused):
        shoppers.request_otp({"phone": "0917 123 4599"}, "198.51.101.99", total, now=day + 86400)

    ranges = replace(settings, sms_prefix_hourly_budget=1)
    shoppers.request_otp({"phone": "0912 345 604"}, "198.51.100.5", ranges, now=day + 2 * 86400)
    with pytest.raises(SmsPaused):  # +84912 had its one code this hour
        shoppers.request_otp({"phone": "0912 345 605"}, "198.51.100.6", ranges, now=day + 2 * 86400)
    shoppers.request_otp({"phone": "0918 345 605"}, "198.51.100.6", ranges, now=day + 2 * 86400)  # +84918 goes
    shoppers.request_otp({"phone": "0912 345 605"}, "198.51.100.6", ranges, now=day + 2 * 86400 + 3600)


def test_a_paused_sms_budget_answers_503_with_retry_after(api, outbox, monkeypatch):
    monkeypatch.setattr(shoppers.limits, "spend_budget", lambda *args, **kwargs: 1234)
    response = api.call("POST", "/v1/shopper/otp", {"phone": PHONE}, token="")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1234"
    assert response.json_body["error"]["code"] == "sms_unavailable"
    assert outbox.messages == []


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
    ({"phone": PHONE, "otp": "12345", "consent": CONSENT}, "otp"),
    ({"phone": PHONE, "otp": "1234567", "consent": CONSENT}, "otp"),
    ({"phone": PHONE, "otp": "abcdef", "consent": CONSENT}, "otp"),
    ({"phone": PHONE, "otp": 123456, "consent": CONSENT}, "otp"),
    ({"phone": PHONE, "consent": CONSENT}, "otp"),
    ({"otp": "123456", "consent": CONSENT}, "phone"),
    ({"phone": "garbage", "otp": "123456", "consent": CONSENT}, "phone"),
    # The notice shown before the number was sent: required, current, every purpose, a page language.
    ({"phone": PHONE, "otp": "123456"}, "consent"),
    ({"phone": PHONE, "otp": "123456", "consent": {**CONSENT, "notice": "2020-01-01"}}, "consent.notice"),
    ({"phone": PHONE, "otp": "123456", "consent": {**CONSENT, "purposes": ["promotion"]}}, "consent.purposes"),
    (
        {"phone": PHONE, "otp": "123456", "consent": {**CONSENT, "purposes": [*CONSENT["purposes"], "spam"]}},
        "consent.purposes",
    ),
    ({"phone": PHONE, "otp": "123456", "consent": {**CONSENT, "language": "de"}}, "consent.language"),
    ({"phone": PHONE, "otp": "123456", "consent": "yes"}, "consent"),
]


def test_bad_code_requests_send_and_write_nothing(api, outbox):
    # One test for every case: each moto store costs seconds to set up.
    for body, field, code in BAD_CODE_REQUESTS:
        error = api.json("POST", "/v1/shopper/otp", body, token="", expect=400)["error"]
        assert (error["field"], error["code"]) == (field, code), body
    assert outbox.messages == []
    assert all_items() == "[]"


def test_bad_session_requests_spend_no_try(api, outbox):
    assert sign_in(api, "123456", expect=400)["error"] == REFUSED, "no code was asked for"
    assert all_items() == "[]"
    ask(api)
    before = all_items()
    for body, field in BAD_SESSION_REQUESTS:
        error = api.json("POST", "/v1/shopper/session", body, token="", expect=400)["error"]
        assert error["field"] == field, body
    assert all_items() == before


def test_no_clear_phone_number_in_any_table_or_log(api, outbox, caplog, monkeypatch, one_instant):
    from app import app

    caplog.set_level(logging.DEBUG)
    # The access log goes to chalice's logger, which does not propagate: listen there too.
    monkeypatch.setattr(app.log, "handlers", [*app.log.handlers, caplog.handler])
    ask(api)
    code = last_code(outbox)
    sign_in(api, wrong(code), expect=400)
    session = sign_in(api, code)
    api.call("GET", "/v1/campaigns", token=session["token"])
    for _ in range(2):
        ask(api)  # the pending code again, then a new one once it was used: sealed, never in clear
    assert api.call("POST", "/v1/shopper/otp", {"phone": PHONE}, token="").status_code == 429  # the refused fourth
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
        def get_parameter(self, Name, WithDecryption):
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
