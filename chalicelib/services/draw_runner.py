"""Running lucky draws: freeze the entries, draw, tell the winners; POST /run and the every-minute runner.

The state of a draw lives on its item and moves by conditional updates only (adapters/draw_store.py),
so any number of runners (the every-minute schedule, POST /run, retries, concurrent Lambdas) write
one snapshot, one result and one SMS per winner:

    scheduled --lease--> freezing --publish--> frozen --(beacon, if announced)--> drawn

* freeze: the runner that takes the lease (status scheduled, or freezing with a lapsed
  lease) and only it reads the participants, writes the snapshot pages and publishes their
  SHA-256 and entry total, on condition that it still holds the lease. The snapshot is a
  pure function of the claims made up to `entries_until`, so a runner that takes over a
  lapsed lease writes the very same pages.
* every move (frozen, beacon, drawn) is one transaction with its audit event.
* draw: from `frozen` (with the beacon, when one was announced) the winners, then the
  alternates, follow from the snapshot, the seed and the beacon alone (domain/draws.py); the
  write that records them is conditional on `frozen` and reveals the seed in the same update.
* notify: each winner's SMS is claimed (a lease per rank), sent, then marked sent; one that
  failed or was cut short is tried again by a later run, a bounded number of times (draw_notify).

The cut (docs/draws.md, "Which entries count"): a participant whose last claim is at or
before `entries_until` counts with their balance; one who claimed after it counts with
the sum of their claims of this campaign made at or before it, read from the claims'
by-shopper index. A draw is not frozen before `entries_until` + SETTLE, so every claim
stamped at or before the cut has committed and reached that index.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from datetime import datetime

from chalicelib.adapters import draw_store
from chalicelib.adapters.models import Draw
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock
from chalicelib.domain import draws as algorithm
from chalicelib.domain.errors import Conflict, ServiceBusy, Undrawable
from chalicelib.domain.lifecycle import DrawStatus
from chalicelib.domain.phones import unseal_text
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event
from chalicelib.services import audit
from chalicelib.services.draw_notify import notify_winners
from chalicelib.services.draw_snapshot import check_drawable, snapshot_of
from chalicelib.services.win_offers import make_wins
from chalicelib.views.draws import render

__all__ = ["SEED_PURPOSE", "advance", "run_draw", "run_due"]

log = logging.getLogger(__name__)

LEASE_SECONDS = 300
WAIT_SECONDS = 25.0
"""How long a run waits for another runner that holds the draw's lease before answering 503."""
RUNNER = "draw_runner"
SEED_PURPOSE = "draw-seed"
"""What a draw's sealed seed is sealed for (with its draw id)."""


def _freeze(draw: Draw, actor: str, runner: str) -> None:
    """Take the lease, build and check the snapshot, write the pages, publish: or leave the draw as it was.

    Only the lease holder reads the participants: a runner that loses the lease reads nothing,
    and a snapshot that cannot be drawn gives the lease back (the draw is scheduled again).
    """
    now_epoch = int(clock.epoch())
    if not draw_store.take_lease(draw.draw_id, runner, now_epoch + LEASE_SECONDS, now_epoch):
        return
    stats: dict = {}
    try:
        snapshot = snapshot_of(draw, stats)
        check_drawable(draw, snapshot)
    except Exception:
        draw_store.give_back_lease(draw.draw_id, runner)  # the next run need not wait out the lease
        raise
    draw_store.write_pages(draw.draw_id, snapshot.pages)
    details = {
        "snapshot_sha256": snapshot.sha256,
        "entries_total": snapshot.entries_total,
        "participants": snapshot.participants,
    }
    published = draw_store.publish(
        draw.draw_id,
        runner,
        draw_store.Published(
            sha256=snapshot.sha256,
            pages=len(snapshot.pages),
            size=snapshot.size,
            entries_total=snapshot.entries_total,
            participants=snapshot.participants,
            late_participants=stats.get("late_participants", 0),
            at=clock.now(),
        ),
        audit.transaction_event(draw.brand_id, actor, "draw_frozen", draw.draw_id, details),
    )
    if published:
        log_event(
            log, "draw_frozen", draw_id=draw.draw_id, participants=snapshot.participants, pages=len(snapshot.pages)
        )


def _seed_of(draw: Draw) -> bytes:
    return bytes.fromhex(unseal_text(draw.seed_sealed, get_phone_hash_pepper(), f"{SEED_PURPOSE}:{draw.draw_id}"))


def _draw(draw: Draw, actor: str) -> None:
    """Draw the winners and alternates of a frozen draw and reveal its seed, in one conditional write."""
    data, shoppers = draw_store.read_pages(draw.draw_id)
    if hashlib.sha256(data).hexdigest() != draw.snapshot_sha256:
        raise RuntimeError(f"draw {draw.draw_id}: the stored snapshot does not match its published hash")
    ids, weights = algorithm.parse_snapshot(data)
    seed = _seed_of(draw)
    drawn = algorithm.draw_ranked(
        ids,
        weights,
        key=algorithm.mixing_key(seed, draw.snapshot_sha256, draw.beacon),
        winners=int(draw.winners_wanted),
        alternates=int(draw.alternates_wanted or 0),
        one_win=bool(draw.one_win_per_participant),
    )
    picked = [*drawn.winners, *drawn.alternates]
    index = {participant_id: i for i, participant_id in enumerate(ids)} if picked else {}
    picked_shoppers = [shoppers[index[p.participant_id]] for p in picked]
    masked = draw_store.masked_phones(set(picked_shoppers))
    rows = [
        draw_store.Winner(p.rank, p.participant_id, shopper, p.entries, masked.get(shopper, ""))
        for p, shopper in zip(picked, picked_shoppers, strict=True)
    ]
    winners, alternates = rows[: len(drawn.winners)], rows[len(drawn.winners) :]
    details = {
        "seed": seed.hex(),
        "winners": [w.participant_id for w in drawn.winners],
        "alternates": [a.participant_id for a in drawn.alternates],
        "beacon": draw.beacon,
    }
    event = audit.transaction_event(draw.brand_id, actor, "draw_drawn", draw.draw_id, details)
    if draw_store.record_winners(draw.draw_id, winners, alternates, seed.hex(), clock.now(), draw.beacon, event):
        log_event(log, "draw_drawn", draw_id=draw.draw_id, winners=len(winners), alternates=len(alternates))


def advance(draw: Draw, actor: str, *, wait: bool) -> Draw:
    """Move a due draw as far as it can go now; any number of callers at once write one result."""
    runner = f"{actor}#{secrets.token_hex(6)}"
    deadline = clock.monotonic() + WAIT_SECONDS
    while True:
        now_epoch = int(clock.epoch())
        lapsed = draw.status == DrawStatus.FREEZING and int(draw.lease_until or 0) < now_epoch
        if draw.status == DrawStatus.SCHEDULED or lapsed:
            _freeze(draw, actor, runner)
        elif draw.status == DrawStatus.FREEZING:
            if not wait:
                return draw
            if clock.monotonic() > deadline:
                raise ServiceBusy("Another runner is freezing this draw; ask again in a moment.", retry_after=5)
            time.sleep(0.2)
        elif draw.status == DrawStatus.FROZEN:
            if draw.beacon_source is not None and draw.beacon is None:
                return draw  # waits for POST /v1/draws/{draw_id}/beacon
            _draw(draw, actor)
        elif draw.status == DrawStatus.DRAWN:
            make_wins(draw)
            notify_winners(draw)
            return draw_store.reload(draw.draw_id)
        else:
            raise RuntimeError(f"draw {draw.draw_id} has an unknown status {draw.status!r}")
        draw = draw_store.reload(draw.draw_id)


def run_draw(brand_id: str, draw_id: str, actor: str) -> dict:
    """POST /run: run a due draw now; a draw already run answers its result."""
    draw = draw_store.load(brand_id, draw_id)
    due = algorithm.due_at(draw.draw_at, draw.entries_until)
    if draw.status != DrawStatus.DRAWN and clock.now() < due:
        raise Conflict(f"draw_at: This draw is not due until {format_instant(due)}.", field="draw_at")
    return render(advance(draw, actor, wait=True))


def _blocked(draw_id: str, exc: Conflict) -> None:
    log_event(log, "draw_blocked", level=logging.WARNING, draw_id=draw_id, field=exc.field, reason=exc.message)


def run_due(now: datetime | None = None) -> dict:
    """The every-minute runner: advance every draw that is due (and finish SMS of drawn ones)."""
    now = now or clock.now()
    done = blocked = 0
    for draw_id in draw_store.due_draws(now):
        try:
            draw = draw_store.reload(draw_id)
            if draw.status == DrawStatus.DRAWN:
                make_wins(draw)  # a run that stopped between the draw and its wins is finished here
                notify_winners(draw)  # on the list while a winner's SMS waits for its next try
                continue
            advance(draw, RUNNER, wait=False)
            done += 1
        except Undrawable as exc:
            # Its cut has passed, so no later minute can change the snapshot: say why on the
            # draw, for its managers, and take it off the list instead of reading it again.
            blocked += 1
            draw_store.set_aside(draw_id, exc.field, exc.message, now)
            _blocked(draw_id, exc)
        except Conflict as exc:
            blocked += 1
            _blocked(draw_id, exc)
        except Exception:  # noqa: BLE001 - one bad draw must not stop the others; the next minute retries
            log_event(log, "draw_run_failed", level=logging.ERROR, exc_info=True, draw_id=draw_id)
    return {"advanced": done, "blocked": blocked}
