"""A shopper's data rights on moto: the notice accepted at sign-in, marketing consent per brand, and "my data"."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.adapters import records
from chalicelib.adapters.models import Participant, Redemption, ShopperAccount
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock
from chalicelib.domain.phones import seal_text
from chalicelib.services import shoppers
from chalicelib.views.stats import CSV_COLUMNS
from tests.functional.test_openapi import SPEC
from tests.functional.test_shopper_auth import (  # noqa: F401 - the outbox fixture and the sign-in steps
    MASKED,
    PHONE,
    all_items,
    ask,
    last_code,
    outbox,
)
from tests.support import CONSENT, active_batch, shopper_id, shopper_token

OTHER = "0987 654 321"
E164 = {PHONE: "+84912345678", OTHER: "+84987654321"}
DELIVERY = {"name": "Lan Nguyen", "phone": "0912 000 111", "address": "12 Le Loi Street, Hanoi"}


@pytest.fixture(autouse=True)
def _fresh_lookups():
    """Each test's codes are looked up afresh: an earlier test's batch of the same number is not this one."""
    records.clear_cache()
    yield
    records.clear_cache()


def signed_in(api, outbox, phone: str = PHONE, consent: dict = CONSENT) -> str:
    """A token from the real sign-in (so the account and its consents exist)."""
    ask(api, phone)
    body = {"phone": phone, "otp": last_code(outbox, E164[phone]), "consent": consent}
    return api.json("POST", "/v1/shopper/session", body, token="")["token"]


def check_spec(instance, path: str, method: str = "get") -> None:
    from openapi_schema_validator import OAS31Validator

    schema = SPEC["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": SPEC["components"]}).validate(instance)


def test_sign_in_records_the_notice_accepted_once_per_version(api, outbox, monkeypatch):
    token = signed_in(api, outbox)
    signed_in(api, outbox, consent={**CONSENT, "language": "en"})  # the same notice read in English: no new record
    account = ShopperAccount.get(shopper_id())
    assert [(r.notice, sorted(r.purposes), r.language) for r in account.consents] == [
        ("2026-12-07", ["loyalty", "promotion"], "vi")
    ]
    assert account.sign_ins == 2
    # A new notice: the old version is refused, the new one accepted adds a record and keeps the first.
    monkeypatch.setattr(shoppers, "NOTICE_VERSION", "2027-01-01")
    ask(api)
    refused = api.json(
        "POST",
        "/v1/shopper/session",
        {"phone": PHONE, "otp": last_code(outbox), "consent": CONSENT},
        token="",
        expect=400,
    )
    assert refused["error"]["field"] == "consent.notice"
    # The refusal spent nothing: the same code signs in with the new notice accepted.
    accepted = {**CONSENT, "notice": "2027-01-01", "language": "fil"}
    api.json("POST", "/v1/shopper/session", {"phone": PHONE, "otp": last_code(outbox), "consent": accepted}, token="")
    consents = api.json("GET", "/v1/me/consents", token=token)
    check_spec(consents, "/v1/me/consents")
    assert [(c["notice"], c["language"]) for c in consents["accepted"]] == [("2026-12-07", "vi"), ("2027-01-01", "fil")]


def test_marketing_consent_is_optional_per_brand_and_each_change_is_logged(api, outbox):
    token = signed_in(api, outbox)
    assert api.json("GET", "/v1/me/consents", token=token)["marketing_brands"] == []
    granted = api.json("PUT", "/v1/me/consents", {"brand_id": "brand-a", "marketing": True}, token=token)
    check_spec(granted, "/v1/me/consents", "put")
    assert granted["marketing_brands"] == ["brand-a"]
    # Granting again changes nothing and logs nothing; withdrawing is logged.
    api.json("PUT", "/v1/me/consents", {"brand_id": "brand-a", "marketing": True}, token=token)
    withdrawn = api.json("PUT", "/v1/me/consents", {"brand_id": "brand-a", "marketing": False}, token=token)
    assert withdrawn["marketing_brands"] == []
    assert [c["marketing"] for c in withdrawn["marketing_changes"]] == [True, False]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"marketing": True}, "brand_id"),
        ({"brand_id": "Brand A!", "marketing": True}, "brand_id"),
        ({"brand_id": "brand-a"}, "marketing"),
        ({"brand_id": "brand-a", "marketing": "yes"}, "marketing"),
        ({"brand_id": "brand-a", "marketing": True, "extra": 1}, "extra"),
    ],
)
def test_bad_marketing_choices_are_400_naming_the_field_and_write_nothing(api, body, field):
    token = shopper_token()  # signed in before: its account is there
    before = all_items()
    error = api.json("PUT", "/v1/me/consents", body, token=token, expect=400)["error"]
    assert error["field"] == field
    assert all_items() == before


def test_participants_csv_says_which_pseudonyms_may_be_marketed_to(api, outbox):
    token = signed_in(api, outbox)
    signed_in(api, outbox, OTHER)
    api.json("PUT", "/v1/me/consents", {"brand_id": "brand-a", "marketing": True}, token=token)
    campaign = api.json("POST", "/v1/campaigns", json.loads(json.dumps(CAMPAIGN)), expect=201)
    for phone in (PHONE, OTHER):
        Participant(campaign["campaign_id"], shopper_id(phone), claims=1, points=10, entries=1).save()
    response = api.call("GET", f"/v1/campaigns/{campaign['campaign_id']}/participants.csv", role="manager")
    lines = response.body.decode().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS) and CSV_COLUMNS[-1] == "marketing"
    rows = [line.split(",") for line in lines[1:]]
    assert sorted(row[-1] for row in rows) == ["no", "yes"]
    # The CSV neutralises the leading "+" a spreadsheet would read as a formula.
    assert {row[1].lstrip("'"): row[-1] for row in rows}[MASKED] == "yes"


def _own_redemption(phone: str) -> None:
    Redemption(
        "rdm_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        brand_id="brand-a",
        shopper_id=shopper_id(phone),
        reward_id="rwd_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        reward_name="Cap",
        kind="gift",
        cost=5,
        status="pending",
        delivery_sealed=seal_text(json.dumps(DELIVERY), get_phone_hash_pepper(), "delivery"),
        created_at=clock.now(),
        updated_at=clock.now(),
    ).save()


def test_my_data_holds_everything_about_the_shopper_and_nothing_of_anyone_else(api, outbox):
    token = signed_in(api, outbox)
    api.json("PUT", "/v1/me/consents", {"brand_id": "brand-a", "marketing": True}, token=token)
    _, _, codes = active_batch("brand-a", 3)
    api.json("POST", "/v1/scans", {"code": codes[0]}, token=token, expect=200)
    _own_redemption(PHONE)
    data = api.json("GET", "/v1/me/data", token=token)
    check_spec(data, "/v1/me/data")
    assert data["account"]["phone"] == MASKED and data["sign_ins"]["count"] == 1
    assert data["consents"]["marketing_brands"] == ["brand-a"] and len(data["consents"]["accepted"]) == 1
    assert [m["brand_id"] for m in data["memberships"]] == ["brand-a"] and data["memberships"][0]["point_lots"]
    assert len(data["claims"]["items"]) == 1 and data["claims"]["next_cursor"] is None
    # Their own delivery details, unsealed.
    assert data["redemptions"]["items"][0]["delivery"] == DELIVERY
    assert len(data["draws"]) == 0 and data["wins"] == []
    text = json.dumps(data)
    assert "+84912345678" not in text, "the phone is shown masked"

    # Another shopper gets nothing of the first.
    other = signed_in(api, outbox, OTHER)
    theirs = api.json("GET", "/v1/me/data", token=other)
    assert theirs["claims"]["items"] == [] and theirs["redemptions"]["items"] == [] and theirs["memberships"] == []
    assert theirs["consents"]["marketing_brands"] == [] and "Lan Nguyen" not in json.dumps(theirs)
    assert theirs["account"]["phone"] != MASKED


def test_my_data_pages_claims_by_cursor_and_refuses_unknown_kinds(api, outbox):
    token = signed_in(api, outbox)
    _, _, codes = active_batch("brand-a", 3)
    for code in codes:
        api.json("POST", "/v1/scans", {"code": code}, token=token, expect=200)
    first = api.json("GET", "/v1/me/data/claims?limit=2", token=token)
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.json("GET", f"/v1/me/data/claims?limit=2&cursor={first['next_cursor']}", token=token)
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert api.json("GET", "/v1/me/data/sessions", token=token, expect=400)["error"]["field"] == "kind"
    assert api.json("GET", "/v1/me/data/claims?limit=0", token=token, expect=400)["error"]["field"] == "limit"
    # Another shopper's cursor pages only their own (empty) history.
    other = shopper_token("+84987654321")
    assert api.json("GET", f"/v1/me/data/claims?cursor={first['next_cursor']}", token=other)["items"] == []


CAMPAIGN = {
    "name": "Marketing check",
    "starts_at": (clock.now() - timedelta(days=1)).isoformat(),
    "ends_at": (clock.now() + timedelta(days=30)).isoformat(),
    "timezone": "Asia/Ho_Chi_Minh",
}


@pytest.mark.parametrize("lang", ["vi", "en", "fil"])
def test_the_sign_in_notice_links_to_the_full_notice_in_the_pages_language(api, lang):
    from chalicelib.domain.consent import NOTICE_VERSION
    from chalicelib.pages import landing

    strings = landing.STRINGS[lang]
    wallet = api.call("GET", f"/wallet/brand-a?lang={lang}", token="").body.decode()
    assert strings["notice_body"].replace("'", "&#x27;") in wallet and f'data-notice="{NOTICE_VERSION}"' in wallet
    assert f'href="../privacy?lang={lang}"' in wallet and 'id="accept"' in wallet
    page = api.call("GET", f"/privacy?lang={lang}", token="")
    assert page.status_code == 200 and page.headers["Content-Language"] == lang
    text = page.body.decode()
    assert strings["privacy_p1"].replace("'", "&#x27;") in text and NOTICE_VERSION in text
