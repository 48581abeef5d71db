"""A brand's own purposes on DynamoDB Local: the owner's versioned write with its audit event in one
transaction, and each account's purpose log conditional on its length (two changes at once: one wins)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from chalicelib.adapters import shopper_store
from chalicelib.adapters.models import ShopperAccount
from chalicelib.domain.consent import PurposeDecision
from tests.functional.test_brand_purposes import (  # noqa: F401 - fixtures and tests, on the real engine
    outbox,
    test_a_deletion_removes_the_purposes_accepted_and_keeps_their_log_as_proof,
    test_bad_purposes_are_refused_by_field_and_nothing_is_written,
    test_owners_set_the_purposes_every_role_reads_them_and_the_page_reads_them_without_a_token,
    test_sign_in_records_each_brand_purpose_accepted_and_the_wallet_withdraws_an_optional_one,
)


def test_two_changes_from_the_same_read_of_the_log_write_once(api):
    ShopperAccount("shp_01ARZ3NDEKTSV4RRFFQ69G5FAV", phone_hash="0" * 64).save()  # a live account
    at = datetime.now(UTC)

    def decide(purpose: str) -> bool:
        decision = PurposeDecision("brand-a", purpose, 1, True, at, "2026-12-07", "vi")
        return shopper_store.decide_purposes("shp_01ARZ3NDEKTSV4RRFFQ69G5FAV", {f"brand-a/{purpose}@1"}, [decision], 0)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(decide, ["surveys", "share-courier"]))
    assert sorted(results) == [False, True]
    account = ShopperAccount.get("shp_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert len(account.purpose_log) == 1 and len(account.purpose_grants) == 1
    # The loser reads again: a change from a stale length is refused, from the current one written.
    decision = PurposeDecision("brand-a", "other", 1, True, at)
    assert not shopper_store.decide_purposes(account.shopper_id, {"brand-a/other@1"}, [decision], 0)
    assert shopper_store.decide_purposes(account.shopper_id, {"brand-a/other@1"}, [decision], 1)
    assert len(ShopperAccount.get(account.shopper_id).purpose_log) == 2
