"""benchmarks/bench_draws.py's big path, short: the same code over generated pages gives a correct draw."""

from __future__ import annotations

import hashlib

from benchmarks import bench_draws
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import draws as algorithm
from chalicelib.services import draw_snapshot
from scripts import verify_draw


def test_the_generated_path_freezes_and_draws_what_the_verify_script_recomputes():
    ours = bench_draws.run_generated(9_000, winners=25)
    base = bench_draws.run_generated(9_000, winners=25, baseline=True)
    assert ours["winners_sha"] == base["winners_sha"]  # Fenwick and linear scan agree
    assert ours["participants"] <= 9_000 and ours["snapshot_pages"] == -(
        -ours["participants"] // draw_snapshot.PAGE_ROWS
    )
    assert ours["late"] > 0 and 1.0 < ours["items_read"] / ours["participants_read"] < 1.5
    # The snapshot it hashed is a valid one, and the independent implementation draws the same winners.
    source = bench_draws.GeneratedParticipants(9_000)
    snapshot = draw_snapshot.build_snapshot(
        bench_draws.BRAND, source.pages(), source.claims_until_cut, pepper=get_phone_hash_pepper()
    )
    data = b"".join(body for body, _, _ in snapshot.pages)
    assert hashlib.sha256(data).hexdigest() == snapshot.sha256 == ours["snapshot_sha256"]
    names, counts = verify_draw.read_snapshot(data)
    assert sum(counts) == snapshot.entries_total == ours["entries"]
    seed = hashlib.sha256(b"bench seed").digest()
    theirs = verify_draw.winners_of(
        names, counts, seed=seed, snapshot_hash=snapshot.sha256, beacon="", wanted=25, one_win=True
    )
    assert hashlib.sha256(",".join(theirs).encode()).hexdigest()[:16] == ours["winners_sha"]
    # Late participants count only their claims up to the cut.
    late = next(iter(source.late))
    assert source.claims_until_cut([late]) == [max(source.late[late] - 2, 0)]
    ids, _ = algorithm.parse_snapshot(data)
    assert ids == sorted(ids)
