"""Batches against DynamoDB Local: the functional suite again, then batch numbers under concurrency."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

from chalicelib.adapters.models import Batch
from chalicelib.services import batches, campaigns
from tests.functional.test_batches_api import (  # noqa: F401 - the same API tests, on the real engine
    mint,
    test_another_brand_sees_nothing,
    test_bad_batches_write_nothing,
    test_batch_lifecycle,
    test_codes_csv_is_the_whole_print_file,
    test_list_batches_pages_in_minting_order,
    test_mint_is_one_inactive_record,
    test_qr_images_decode_to_the_code_url,
    test_void_a_single_code,
)
from tests.support import VALID_CAMPAIGN


def test_concurrent_mints_never_share_a_batch_number(store):
    campaign = campaigns.create_campaign("brand-a", "user-1", copy.deepcopy(VALID_CAMPAIGN))

    def mint(i):
        return batches.mint_batch("brand-a", campaign["campaign_id"], "user-1", {"sku": f"SKU-{i}", "quantity": 100})

    # Each thread stands for one Lambda container minting at the same moment.
    with ThreadPoolExecutor(max_workers=25) as pool:
        minted = list(pool.map(mint, range(100)))
    numbers = [b["batch_number"] for b in minted]
    assert len(set(numbers)) == 100
    stored = {b.batch_id: b.batch_number for b in Batch.scan()}
    assert stored == {b["batch_id"]: b["batch_number"] for b in minted}


def test_concurrent_voids_of_one_code_write_one_state(store):
    campaign = campaigns.create_campaign("brand-a", "user-1", copy.deepcopy(VALID_CAMPAIGN))
    batch = batches.mint_batch("brand-a", campaign["campaign_id"], "user-1", {"sku": "X", "quantity": 10})
    header, row = batches.csv_lines(Batch.get(batch["batch_id"]), 3, 4)
    code = row.split(",")[1]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: batches.void_code("brand-a", code, "user-1", {"status": "void"}), range(32)))
    assert {r["voided_at"] for r in results} == {results[0]["voided_at"]}
    assert all(r["serial"] == 3 for r in results)
