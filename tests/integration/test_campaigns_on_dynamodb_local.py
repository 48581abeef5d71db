"""The campaigns API against DynamoDB Local: the functional suite again, then concurrency."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain.errors import Conflict
from chalicelib.services import campaigns
from tests.functional.test_auth import (  # noqa: F401
    campaign_path,
    test_bad_tokens_get_one_generic_401,
    test_valid_token_is_accepted,
)
from tests.functional.test_bad_input import (  # noqa: F401
    test_create_refuses_bad_bodies,
    test_patch_refuses_bad_bodies,
    test_status_refuses_bad_bodies,
)
from tests.functional.test_campaigns_api import *  # noqa: F403 - the same API tests, on the real engine
from tests.support import VALID_CAMPAIGN

BRAND = "brand-a"


def _create(**changes):
    body = copy.deepcopy(VALID_CAMPAIGN)
    body.update(changes)
    return campaigns.create_campaign(BRAND, "user-1", body)


def _outcome(call):
    """Run one request's domain call as a container would: its answer or its error code."""
    try:
        return 200, call()
    except Conflict as exc:
        return 409, exc.code


def _parallel(calls, workers=16):
    # Each thread stands for one Lambda container; chalice's app object serves one request
    # at a time, so concurrency is exercised at the domain layer the routes call.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_outcome, calls))


def test_concurrent_patches_never_lose_an_update_silently(store):
    campaign = _create()
    cid = campaign["campaign_id"]
    names = [f"Name {i}" for i in range(24)]
    results = _parallel([lambda n=n: campaigns.update_campaign(BRAND, cid, "user-1", {"name": n}) for n in names])
    assert {code for code, _ in results} <= {200, 409}
    winners = [body for code, body in results if code == 200]
    assert winners, "at least one concurrent change must win"
    final = campaigns.get_campaign(BRAND, cid)
    # Each successful save bumped the version exactly once; a 409 wrote nothing.
    assert final["version"] == campaign["version"] + len(winners)
    assert final["name"] in {w["name"] for w in winners}
    assert sorted(w["version"] for w in winners) == list(range(2, 2 + len(winners)))


def test_concurrent_status_changes_keep_the_lifecycle(store):
    for _ in range(5):
        cid = _create(ends_at="2029-06-01T00:00:00Z")["campaign_id"]
        campaigns.change_campaign_status(BRAND, cid, "user-1", {"status": "active"})
        targets = ["ended", "paused"] * 8
        results = _parallel(
            [
                lambda t=t, cid=cid: campaigns.change_campaign_status(BRAND, cid, "user-1", {"status": t})
                for t in targets
            ]
        )
        final = campaigns.get_campaign(BRAND, cid)["status"]
        ended = any(code == 200 and body["status"] == "ended" for code, body in results)
        # Ended is final: if any request ended it, it stays ended whatever raced with it.
        assert final == ("ended" if ended else "paused")
        # A transition out of "ended" can never have succeeded.
        assert not (
            ended
            and any(
                code == 200 and body["status"] == "paused" and body["version"] > _ended_version(results)
                for code, body in results
            )
        )


def _ended_version(results):
    return min(body["version"] for code, body in results if code == 200 and body["status"] == "ended")


def test_concurrent_creates_get_distinct_ids_and_all_are_listed(store):
    results = _parallel([lambda i=i: _create(name=f"C{i}") for i in range(40)])
    assert all(code == 200 for code, _ in results)
    ids = {body["campaign_id"] for _, body in results}
    assert len(ids) == 40
    listed, cursor = set(), None
    while True:
        page = campaigns.list_campaigns(BRAND, limit="100", cursor=cursor)
        listed |= {c["campaign_id"] for c in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert listed == ids
