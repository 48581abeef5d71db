"""A brand's own consent purposes on moto: owners set them, the sign-in accepts them per purpose, the
wallet's withdrawal of an optional one, and bad input refused by field with nothing written."""

from __future__ import annotations

import pytest

from chalicelib.adapters.models import AuditEvent, ConsentPurposes, ShopperAccount
from tests.functional.test_shopper_auth import PHONE, ask, last_code, outbox  # noqa: F401 - the outbox fixture
from tests.functional.test_shopper_data import check_spec
from tests.support import CONSENT, shopper_id

BRAND = "brand-a"
SHARE = {
    "id": "share-courier",
    "required": True,
    "text": {
        "vi": "Chia sẻ tên và địa chỉ với đơn vị giao quà.",
        "en": "Share my name and address with the gift courier.",
        "fil": "Ibahagi ang aking pangalan at address sa courier ng regalo.",
    },
}
SURVEY = {
    "id": "surveys",
    "required": False,
    "text": {
        "vi": "Mời tôi tham gia khảo sát sản phẩm.",
        "en": "Invite me to product surveys.",
        "fil": "Imbitahan ako sa mga survey ng produkto.",
    },
}


def _set(api, purposes: list[dict], version: int, expect: int = 200, role: str = "owner") -> dict:
    return api.json("PUT", "/v1/consent-purposes", {"purposes": purposes, "version": version}, role=role, expect=expect)


def _session(api, outbox, consent: dict, expect: int = 200) -> dict:
    body = {"phone": PHONE, "otp": last_code(outbox), "consent": consent}
    return api.json("POST", "/v1/shopper/session", body, token="", expect=expect)


def _with(version: int, *accepted: str) -> dict:
    return {**CONSENT, "brand_id": BRAND, "brand_version": version, "brand_purposes": list(accepted)}


def test_owners_set_the_purposes_every_role_reads_them_and_the_page_reads_them_without_a_token(api):
    assert api.json("GET", "/v1/consent-purposes") == {"brand_id": BRAND, "version": 0, "purposes": []}
    saved = _set(api, [SHARE, SURVEY], 0)
    check_spec(saved, "/v1/consent-purposes", "put")
    assert saved["version"] == 1 and [p["revision"] for p in saved["purposes"]] == [1, 1]
    for role in ("manager", "viewer"):
        assert api.json("GET", "/v1/consent-purposes", role=role) == saved
        _set(api, [], 1, expect=403, role=role)
    shown = api.json("GET", f"/v1/brands/{BRAND}/purposes", token="")
    check_spec(shown, "/v1/brands/{brand_id}/purposes")
    assert shown == saved
    assert api.json("GET", "/v1/brands/brand-b/purposes", token="")["purposes"] == []
    api.json("GET", "/v1/brands/Not_A_Brand/purposes", token="", expect=404)
    # New words raise the purpose's revision; unchanged ones keep theirs. Each change is audited.
    reworded = {**SURVEY, "text": {**SURVEY["text"], "en": "Invite me to short product surveys."}}
    again = _set(api, [SHARE, reworded], 1)
    assert again["version"] == 2 and [p["revision"] for p in again["purposes"]] == [1, 2]
    events = [e for e in AuditEvent.query(BRAND) if e.action == "consent_purposes"]
    assert len(events) == 2 and all(e.actor == "user-1" for e in events)
    # An edit made from an older read is refused, naming the version.
    assert _set(api, [SHARE], 1, expect=400)["error"]["field"] == "version"


@pytest.mark.parametrize(
    ("purposes", "field"),
    [
        ([{**SURVEY, "id": "marketing"}], "purposes[0].id"),
        ([{**SURVEY, "id": "Bad Id"}], "purposes[0].id"),
        ([{**SURVEY, "text": {**SURVEY["text"], "vi": "   "}}], "purposes[0].text.vi"),
        ([{**SURVEY, "text": {"vi": "x", "en": "y"}}], "purposes[0].text.fil"),
        ([{**SURVEY, "text": {**SURVEY["text"], "en": "x" * 401}}], "purposes[0].text.en"),
        ([{**SURVEY, "required": "yes"}], "purposes[0].required"),
        ([SURVEY, SURVEY], "purposes"),
        ([{**SURVEY, "id": f"p-{n}"} for n in range(9)], "purposes"),
    ],
)
def test_bad_purposes_are_refused_by_field_and_nothing_is_written(api, purposes, field):
    refused = _set(api, purposes, 0, expect=400)
    assert refused["error"]["field"].startswith(field), refused
    assert list(ConsentPurposes.scan()) == []
    assert not [e for e in AuditEvent.query(BRAND) if e.action == "consent_purposes"]


def test_sign_in_records_each_brand_purpose_accepted_and_the_wallet_withdraws_an_optional_one(api, outbox):
    version = _set(api, [SHARE, SURVEY], 0)["version"]
    ask(api)
    # Refused before the code is used: a required purpose left out, an unknown one, an older version,
    # purposes without their brand. Nothing is written and the same code still signs in.
    for consent, field in (
        (_with(version, "surveys"), "consent.brand_purposes"),
        (_with(version, "share-courier", "other"), "consent.brand_purposes"),
        (_with(0, "share-courier"), "consent.brand_version"),
        ({**CONSENT, "brand_purposes": ["share-courier"]}, "consent.brand_id"),
        ({**_with(version), "brand_id": "Brand A"}, "consent.brand_id"),
    ):
        assert _session(api, outbox, consent, expect=400)["error"]["field"] == field
    assert ShopperAccount.count() == 0
    token = _session(api, outbox, {**_with(version, "share-courier", "surveys"), "language": "fil"})["token"]
    consents = api.json("GET", "/v1/me/consents", token=token)
    check_spec(consents, "/v1/me/consents")
    assert consents["brand_purposes"] == [
        {"brand_id": BRAND, "purpose": "share-courier", "revision": 1},
        {"brand_id": BRAND, "purpose": "surveys", "revision": 1},
    ]
    changes = consents["brand_purpose_changes"]
    assert [(c["purpose"], c["accepted"], c["notice"], c["language"]) for c in changes] == [
        ("share-courier", True, CONSENT["notice"], "fil"),
        ("surveys", True, CONSENT["notice"], "fil"),
    ]
    # A required purpose is not withdrawn from the wallet (the account's deletion ends it).
    withdraw = {"brand_id": BRAND, "purpose": "share-courier"}
    refused = api.json("POST", "/v1/me/consents/withdrawals", withdraw, token=token, expect=400)
    assert refused["error"]["field"] == "purpose"
    for bad, field in (({"brand_id": "B!", "purpose": "surveys"}, "brand_id"), ({"brand_id": BRAND}, "purpose")):
        assert api.json("POST", "/v1/me/consents/withdrawals", bad, token=token, expect=400)["error"]["field"] == field
    after = api.json("POST", "/v1/me/consents/withdrawals", {**withdraw, "purpose": "surveys"}, token=token)
    check_spec(after, "/v1/me/consents/withdrawals", "post")
    assert [g["purpose"] for g in after["brand_purposes"]] == ["share-courier"]
    assert after["brand_purpose_changes"][-1] | {"at": None} == {
        "brand_id": BRAND,
        "purpose": "surveys",
        "revision": 1,
        "accepted": False,
        "notice": None,
        "language": None,
        "at": None,
    }
    # Withdrawing again changes nothing and writes nothing.
    again = api.json("POST", "/v1/me/consents/withdrawals", {**withdraw, "purpose": "surveys"}, token=token)
    assert len(again["brand_purpose_changes"]) == 3
    # Signing in again with the same boxes ticked records nothing new; the purpose's new words do.
    ask(api)
    _session(api, outbox, _with(version, "share-courier"))
    assert len(ShopperAccount.get(shopper_id()).purpose_log) == 3
    reworded = {**SHARE, "text": {**SHARE["text"], "vi": "Chia sẻ tên, số điện thoại và địa chỉ với đơn vị giao quà."}}
    version = _set(api, [reworded, SURVEY], version)["version"]
    ask(api)
    _session(api, outbox, _with(version, "share-courier"))
    account = ShopperAccount.get(shopper_id())
    assert account.purpose_grants == {f"{BRAND}/share-courier@2"}
    assert [(c.purpose, c.revision, c.granted) for c in account.purpose_log][-1] == ("share-courier", 2, True)


def test_a_deletion_removes_the_purposes_accepted_and_keeps_their_log_as_proof(api, outbox):
    version = _set(api, [SHARE, SURVEY], 0)["version"]
    ask(api)
    session = _session(api, outbox, _with(version, "share-courier", "surveys"))
    token = session["token"]
    assert api.json("POST", "/v1/me/deletion", token=token, expect=202)["sent"] is True
    api.json("POST", "/v1/me/deletion/confirm", {"otp": last_code(outbox)}, token=token)
    gone = ShopperAccount.get(session["shopper_id"])  # the number now finds no account
    assert gone.purpose_grants is None
    assert [(c.purpose, c.granted) for c in gone.purpose_log] == [("share-courier", True), ("surveys", True)]
