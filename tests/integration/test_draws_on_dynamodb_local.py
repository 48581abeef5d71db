"""Lucky draws on DynamoDB Local: the functional suite again, then concurrent runners of one draw."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from chalicelib.adapters.models import AuditEvent, Draw, DrawPage
from chalicelib.domain import draws as algorithm
from chalicelib.services import draws
from tests.functional.test_draws import *  # noqa: F401,F403 - the same draw tests, on the real engine
from tests.functional.test_draws import BRAND, _claims, _schedule


def test_concurrent_runners_of_one_draw_write_one_result_and_one_sms_per_winner(api, world, memory_sms):
    t0 = world["t0"]
    _claims(world, [3, 1, 4, 1, 5, 9], t0 + timedelta(minutes=1))
    draw = _schedule(api, world, winners=4)
    start = threading.Barrier(16)

    def runner(n: int) -> dict:
        # Each thread stands for one Lambda container: half press POST /run, half are the schedule.
        start.wait()
        if n % 2:
            return draws.run_draw(BRAND, draw["draw_id"], f"op-{n}")
        draws.run_due()
        return draws.get_draw(BRAND, draw["draw_id"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(runner, range(16)))
    final = draws.get_draw(BRAND, draw["draw_id"])
    assert final["status"] == "drawn" and len(final["winners"]) == 4
    for result in results:
        if result["status"] == "drawn":
            assert result["winners"] == [
                {**w, "notified": result_w["notified"]} for w, result_w in zip(final["winners"], result["winners"])
            ]
            assert result["seed"] == final["seed"] and result["snapshot_sha256"] == final["snapshot_sha256"]
    # Whatever a scheduled runner returned mid-way, a run now answers the one result.
    assert draws.run_draw(BRAND, draw["draw_id"], "late")["winners"] == final["winners"]
    # One SMS per winner, each to that winner's number.
    assert len(memory_sms.messages) == 4
    assert len({m.to for m in memory_sms.messages}) == 4
    assert all(w["notified"] for w in final["winners"]) and final["notified_at"]
    # One snapshot, one result in the trail.
    actions = [e.action for e in AuditEvent.query(BRAND)]
    assert actions.count("draw_frozen") == 1 and actions.count("draw_drawn") == 1
    pages = list(DrawPage.query(draw["draw_id"]))
    assert len(pages) == int(Draw.get(draw["draw_id"]).snapshot_pages) == 1
    ids, weights = algorithm.parse_snapshot(b"".join(bytes(p.body) for p in pages))
    assert sum(weights) == final["entries_total"] == 23
