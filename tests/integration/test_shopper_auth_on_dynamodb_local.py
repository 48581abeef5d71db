"""Shopper sign-in on DynamoDB Local: the main functional tests again, then concurrent guesses, sessions and requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.adapters import sms
from chalicelib.adapters.models import OtpChallenge
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import phones
from chalicelib.domain.errors import DomainError
from chalicelib.services import shoppers
from tests.functional.test_shopper_auth import (  # noqa: F401 - fixtures and tests, on the real engine
    E164,
    PHONE,
    last_code,
    one_instant,
    outbox,
    settings,
    test_a_fourth_code_from_one_address_in_ten_minutes_is_refused_and_not_sent,
    test_a_stranger_cannot_spend_the_owners_allowance,
    test_an_expired_code_is_refused,
    test_asking_again_sends_the_pending_code_so_nobody_can_cancel_it,
    test_five_wrong_tries_spend_the_code,
    test_no_clear_phone_number_in_any_table_or_log,
    test_one_code_signs_in_once,
    test_sign_in_with_a_code_sent_by_sms,
)
from tests.support import CONSENT

IP = "198.51.100.20"


def _outcome(call):
    """One request's domain call as a container would run it: its answer, or its error code."""
    try:
        return call()
    except DomainError as exc:
        return exc.code


def _parallel(calls, workers=20):
    # Each thread stands for one Lambda container hitting the same items at once.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_outcome, calls))


def _hashed(settings) -> str:
    return phones.phone_hash(E164, get_phone_hash_pepper(settings))


def test_concurrent_wrong_guesses_spend_exactly_the_five_tries(settings):
    shoppers.request_otp({"phone": PHONE}, IP, settings)
    code = last_code(sms.memory_sender())
    guesses = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 21)]
    results = _parallel(
        [lambda g=g: shoppers.create_session({"phone": PHONE, "otp": g, "consent": CONSENT}, settings) for g in guesses]
    )
    # All twenty answered alike; the challenge counted exactly its five tries, no more.
    assert results == ["otp_invalid"] * 20
    assert OtpChallenge.get(_hashed(settings), consistent_read=True).tries == shoppers.OTP_MAX_TRIES
    assert (
        _outcome(lambda: shoppers.create_session({"phone": PHONE, "otp": code, "consent": CONSENT}, settings))
        == "otp_invalid"
    )


def test_concurrent_sessions_with_the_right_code_yield_one_token(settings):
    shoppers.request_otp({"phone": PHONE}, IP, settings)
    body = {"phone": PHONE, "otp": last_code(sms.memory_sender()), "consent": CONSENT}
    results = _parallel([lambda: shoppers.create_session(body, settings)] * 10, workers=10)
    sessions = [r for r in results if isinstance(r, dict)]
    assert len(sessions) == 1 and sessions[0]["token"]
    assert sorted(r for r in results if not isinstance(r, dict)) == ["otp_invalid"] * 9
    assert OtpChallenge.count(_hashed(settings), consistent_read=True) == 0


def test_concurrent_code_requests_for_one_number_send_one_code_within_the_limit(settings):
    allowed = shoppers.OTP_LIMITS.per_number_and_address_per_window
    results = _parallel([lambda: shoppers.request_otp({"phone": PHONE}, IP, settings)] * 10, workers=10)
    assert sum(isinstance(r, dict) for r in results) == allowed
    assert results.count("limit_reached") == 10 - allowed
    texts = [m.text for m in sms.memory_sender().to(E164)]
    assert len(texts) == allowed
    # However they raced, the texts carry one code: a pending code is sent again, never replaced.
    assert len({last_code_of(text) for text in texts}) == 1
    assert shoppers.create_session({"phone": PHONE, "otp": last_code_of(texts[0]), "consent": CONSENT}, settings)[
        "token"
    ]


def last_code_of(text: str) -> str:
    import re

    return re.search(r"\b(\d{6})\b", text).group(1)


def test_concurrent_first_sign_ins_of_one_number_open_one_account(settings):
    from chalicelib.adapters import shopper_store
    from chalicelib.adapters.models import ShopperAccount
    from chalicelib.domain import clock

    number = phones.normalise_phone(PHONE, settings.phone_regions)
    pepper = get_phone_hash_pepper(settings)
    ids = _parallel([lambda: shoppers.record_account(number, pepper, clock.now()) for _ in range(12)], workers=12)
    # Every sign-in found the one account the winner opened: one id, one link from the number, and
    # every sign-in counted on it.
    assert len(set(ids)) == 1 and ids[0].startswith("shp_")
    assert shopper_store.account_of_phone(_hashed(settings)) == ids[0]
    accounts = [a for a in ShopperAccount.scan() if a.shopper_id.startswith("shp_")]
    assert [a.shopper_id for a in accounts] == ids[:1]
    assert accounts[0].sign_ins == 12
