"""Shopper sign-in, the pure parts: phone normalisation, masking, keyed hashes, settings, senders."""

from __future__ import annotations

import re

import pytest

from chalicelib.adapters import sms
from chalicelib.adapters.secrets import get_shopper_jwt_keys
from chalicelib.config import LOCAL_JWT_SECRET, LOCAL_PHONE_HASH_PEPPER, LOCAL_SHOPPER_JWT_SECRET, Settings
from chalicelib.domain.errors import InvalidInput, Unauthorized
from chalicelib.domain.ids import new_id
from chalicelib.domain.phones import new_shopper_id, normalise_phone, phone_hash
from chalicelib.services import auth, shoppers, texting

PEPPER = "a-test-pepper-of-thirty-two-bytes-or-more"


@pytest.mark.parametrize(
    "raw, e164, region",
    [
        ("0912 345 678", "+84912345678", "VN"),
        ("0912345678", "+84912345678", "VN"),
        ("+84 912 345 678", "+84912345678", "VN"),
        ("+84912345678", "+84912345678", "VN"),
        ("84912345678", "+84912345678", "VN"),
        ("0084 912 345 678", "+84912345678", "VN"),
        ("+84 (0) 912-345-678", "+84912345678", "VN"),
        ("  0327.123.456 ", "+84327123456", "VN"),
        ("０９１２３４５６７８", "+84912345678", "VN"),  # full-width digits from a phone keyboard
        ("0917 123 4567", "+639171234567", "PH"),
        ("+63 917 123 4567", "+639171234567", "PH"),
        ("639171234567", "+639171234567", "PH"),
    ],
)
def test_mobile_numbers_normalise_to_e164(raw, e164, region):
    phone = normalise_phone(raw)
    assert (phone.e164, phone.region) == (e164, region)


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "digits"),
        ("   ", "digits"),
        ("hello", "digits"),
        ("1-800-FLOWERS", "digits"),  # keypad letters would otherwise become digits
        ("0912 345 67a", "digits"),
        ("+84 912 345 678 ext. 9", "digits"),
        ("++84912345678", "digits"),
        ("84+912345678", "digits"),
        ("0912\u200b345678", "digits"),
        ("+" + "9" * 40, "digits"),
        ("123", "valid"),
        ("0000 000 000", "valid"),
        ("+84 912 345 678 999", "valid"),  # too long
        ("+84 91234", "valid"),  # too short
        ("0123 456 789 0123", "valid"),
        ("+84 28 3829 2222", "mobile"),  # Ho Chi Minh City landline
        ("028 3829 2222", "mobile"),
        ("+63 2 8123 4567", "mobile"),  # Manila landline
        ("+84 1900 1234", "mobile"),  # premium-rate
        ("+1 415 555 2671", "country code"),  # a real mobile, outside the markets
        ("+44 7700 900123", "country code"),
    ],
)
def test_anything_but_a_mobile_number_of_the_markets_is_refused(raw, reason):
    with pytest.raises(InvalidInput) as info:
        normalise_phone(raw)
    error = info.value.to_dict()
    assert error["field"] == "phone" and error["code"] == "phone_invalid"
    assert reason in error["message"]
    # The refusal never echoes what was typed.
    assert raw.strip() not in error["message"] or len(raw.strip()) < 4


def test_non_strings_are_refused():
    for raw in (None, 912345678, ["0912345678"]):
        with pytest.raises(InvalidInput):
            normalise_phone(raw)  # type: ignore[arg-type]


def test_national_input_tries_the_regions_in_order():
    # Valid as a Vietnamese mobile and as a Philippine landline: the first region wins.
    assert normalise_phone("0327 123 456").region == "VN"
    assert normalise_phone("0327 123 456", regions=("PH", "VN")).region == "VN"  # PH reads it as a landline
    assert normalise_phone("0917 123 4567", regions=("PH",)).e164 == "+639171234567"
    with pytest.raises(InvalidInput):
        normalise_phone("0917 123 4567", regions=("VN",))
    with pytest.raises(InvalidInput):
        normalise_phone("+63 917 123 4567", regions=("VN",))


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("0912 345 678", "+84 ••• ••• 678"),
        ("0327 123 456", "+84 ••• ••• 456"),
        ("0917 123 4567", "+63 ••• ••• •567"),
    ],
)
def test_masked_form_shows_the_country_code_and_last_three_digits(raw, masked):
    assert normalise_phone(raw).masked == masked


def test_phone_hash_is_stable_keyed_and_hides_the_number():
    first, again = phone_hash("+84912345678", PEPPER), phone_hash("+84912345678", PEPPER)
    assert first == again and re.fullmatch(r"[0-9a-f]{64}", first)
    assert phone_hash("+84912345678", PEPPER + "x") != first
    assert phone_hash("+84912345679", PEPPER) != first
    assert "912345678" not in first
    # Any input form of the same number gives the same hash, through the E.164 form.
    assert phone_hash(normalise_phone("0912 345 678").e164, PEPPER) == first


def test_a_new_shopper_id_is_random_and_shaped_as_an_id():
    made = {new_shopper_id() for _ in range(1000)}
    assert len(made) == 1000
    assert all(re.fullmatch(r"shp_[0-9A-HJKMNP-TV-Z]{26}", shopper_id) for shopper_id in made)


def test_sms_text_carries_the_code_in_the_shoppers_language():
    vietnamese, english = shoppers._sms_text("012345", "VN"), shoppers._sms_text("012345", "PH")
    assert "012345" in vietnamese and "5 phut" in vietnamese
    assert "012345" in english and "5 minutes" in english
    # GSM-7 only, so each is one SMS segment (160 characters) and not UCS-2.
    for message in (vietnamese, english):
        assert message.isascii() and len(message) <= 160


def test_local_settings_sign_in_with_no_configuration_but_the_stage():
    settings = Settings.from_environ({"STAGE": "local"})
    assert settings.sms_sender == "outbox"
    assert settings.shopper_jwt_secret == LOCAL_SHOPPER_JWT_SECRET != LOCAL_JWT_SECRET
    assert settings.phone_hash_pepper == LOCAL_PHONE_HASH_PEPPER
    assert settings.shopper_jwt_audience == "qr-campaigns-shopper" != settings.jwt_audience
    assert settings.phone_regions == ("VN", "PH")
    assert settings.shopper_token_ttl_seconds == 7200
    assert len(LOCAL_SHOPPER_JWT_SECRET.encode()) >= 32 and len(LOCAL_PHONE_HASH_PEPPER.encode()) >= 32


def test_aws_stages_use_sns_and_never_the_local_secrets():
    settings = Settings.from_environ({"STAGE": "prod"})
    assert settings.sms_sender == "sns"
    assert settings.shopper_jwt_secret is None and settings.phone_hash_pepper is None
    configured = Settings.from_environ(
        {
            "STAGE": "prod",
            "SHOPPER_JWT_SECRET_PARAMETER": "/qr-campaigns/prod/shopper-jwt-secret",
            "PHONE_HASH_PEPPER_PARAMETER": "/qr-campaigns/prod/phone-hash-pepper",
            "PHONE_REGIONS": "vn, ph",
        }
    )
    assert configured.shopper_jwt_secret_parameter == "/qr-campaigns/prod/shopper-jwt-secret"
    assert configured.phone_hash_pepper_parameter == "/qr-campaigns/prod/phone-hash-pepper"
    assert configured.phone_regions == ("VN", "PH")


@pytest.mark.parametrize("kind", ["outbox", "memory"])
def test_aws_stages_refuse_the_local_senders(kind):
    with pytest.raises(RuntimeError):
        sms.sender_for(Settings(stage="prod", sms_sender=kind))


def test_senders_by_name():
    assert isinstance(sms.sender_for(Settings(sms_sender="sns", stage="prod")), sms.SnsSender)
    assert isinstance(sms.sender_for(Settings(sms_sender="outbox")), sms.OutboxSender)
    assert sms.sender_for(Settings(sms_sender="memory")) is sms.memory_sender()
    with pytest.raises(RuntimeError):
        sms.sender_for(Settings(sms_sender="carrier-pigeon"))


def test_rotating_the_shopper_key_keeps_signed_in_shoppers_signed_in():
    """With `<new> <old>` configured, new tokens are signed with the new key and tokens signed
    with the old one still verify; once the old key is dropped they no longer do."""
    old, new = "old-shopper-key-0123456789abcdefghijklmnop", "new-shopper-key-0123456789abcdefghijklmnop"
    shopper = auth.Shopper(shopper_id=new_id("shp"), phone_masked="+84 ••• ••• 678")
    before = Settings.from_environ({"STAGE": "prod", "SHOPPER_JWT_SECRET": old})
    during = Settings.from_environ({"STAGE": "prod", "SHOPPER_JWT_SECRET": f"{new}\n{old}"})
    after = Settings.from_environ({"STAGE": "prod", "SHOPPER_JWT_SECRET": new})
    signed_before, _ = auth.issue_shopper_token(before, shopper)
    signed_during, _ = auth.issue_shopper_token(during, shopper)

    assert auth.authenticate_shopper(f"Bearer {signed_before}", during) == shopper
    assert auth.authenticate_shopper(f"Bearer {signed_during}", during) == shopper
    assert auth.authenticate_shopper(f"Bearer {signed_during}", after) == shopper
    with pytest.raises(Unauthorized):
        auth.authenticate_shopper(f"Bearer {signed_before}", after)
    with pytest.raises(Unauthorized):
        auth.authenticate_shopper(f"Bearer {signed_during}", before)


def test_every_configured_shopper_key_must_be_full_length():
    short = Settings.from_environ({"STAGE": "prod", "SHOPPER_JWT_SECRET": "k" * 40 + " short"})
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        get_shopper_jwt_keys(short)
    assert get_shopper_jwt_keys(Settings.from_environ({"STAGE": "prod", "SHOPPER_JWT_SECRET": "k" * 40})) == ("k" * 40,)


def test_an_sms_is_in_the_language_of_the_numbers_country_and_vietnamese_has_no_diacritics():
    texts = {"vi": "Ban trung {prize}", "fil": "Nanalo ka ng {prize}", "en": "You won {prize}"}
    assert texting.render(texts, "VN", prize="Xe máy Đỏ, đồng hồ") == "Ban trung Xe may Do, dong ho"
    assert texting.render(texts, "PH", prize="Xe máy") == "Nanalo ka ng Xe máy"
    assert texting.render(texts, "US", prize="Xe máy") == "You won Xe máy"
    # Without a text in the language, English; a sign-in code has no Filipino text yet.
    assert texting.render({"en": "Code {code}"}, "PH", code="1") == "Code 1"
