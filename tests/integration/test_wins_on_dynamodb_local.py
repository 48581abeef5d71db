"""Wins on DynamoDB Local: a forfeit, a decline and the promotions and SMS they bring, exactly once with a
fault at every AWS call, and with runners and shoppers racing in threads."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.models import Draw, DrawWinner, ShopperAccount, Win
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.adapters.sms import memory_sender
from chalicelib.config import get_settings
from chalicelib.domain import clock, phones
from chalicelib.domain.errors import ServiceBusy
from chalicelib.domain.lifecycle import DrawStatus
from chalicelib.services import win_offers, wins
from tests.faults import KINDS, Crash, Injector, prove
from tests.integration.test_faults_on_dynamodb_local import FULL, _empty_tables, _tables, frozen, injector  # noqa: F401
from tests.support import shopper_id

pytestmark = pytest.mark.timeout(900)
BRAND = "brand-a"
PHONES = ["+84912340001", "+84912340002", "+84912340003"]
DRAW_ID = "drw_01ARZ3NDEKTSV4RRFFQ69G5FAV"
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ][0-9:.]+(Z|\+00:00| UTC)?")
_SEALED = re.compile(r"v1:[A-Za-z0-9_=-]+")  # a fresh nonce each time it is sealed
_TRIES = (
    "text_claims",
    "text_tries",
    "due_at",
    "due_shard",
    "expires_at",
)  # when and how often, not what: faults move these


@pytest.fixture
def sms():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SMS_SENDER", "memory")
        get_settings.cache_clear()
        memory_sender().clear()
        yield memory_sender()
    memory_sender().clear()
    get_settings.cache_clear()


def drawn_draw(brand_id: str, winners: list[DrawWinner], alternates: list[DrawWinner], drawn_at: datetime) -> None:
    """DRAW_ID drawn at `drawn_at` with these winners and alternates, and its winners' wins as the runner makes them."""
    draw = Draw(
        DRAW_ID,
        brand_id=brand_id,
        campaign_id="cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        name="Grand draw",
        prize="Motorbike",
        winners_wanted=len(winners),
        alternates_wanted=len(alternates),
        draw_at=drawn_at,
        entries_until=drawn_at,
        one_win_per_participant=True,
        algorithm="qrc-draw-v1",
        seed_commitment="0" * 64,
        seed_sealed="x",
        status=DrawStatus.DRAWN,
        winners=winners,
        alternates=alternates,
        drawn_at=drawn_at,
        created_at=drawn_at,
        created_by="op",
    )
    draw.save()
    win_offers.make_wins(draw)


def _world() -> dict:
    """A drawn draw: one winner (pick 1), whose window ended, and two alternates; the three shoppers' accounts."""
    pepper = get_phone_hash_pepper()
    ids = []
    for phone in PHONES:
        number = phones.normalise_phone(phone, ("VN", "PH"))
        ids.append(shopper_id(phone))
        ShopperAccount(
            ids[-1],
            phone_hash=phones.phone_hash(number.e164, pepper),
            phone_masked=number.masked,
            phone_sealed=phones.seal_phone(number.e164, pepper),
            created_at=clock.now(),
        ).save()
    rows = [
        DrawWinner(rank=r, participant_id=f"mbr_{r}", shopper_id=s, entries=1, phone_masked="")
        for r, s in ((1, ids[0]), (1, ids[1]), (2, ids[2]))
    ]
    drawn_draw(BRAND, rows[:1], rows[1:], clock.now() - timedelta(days=31))
    return {"shoppers": ids}


def _runner_passes(injector: Injector, passes: int) -> None:
    """The every-minute runner, `passes` times, a minute apart (longer after a crash, as a lost sender's lease lapses)."""
    for _ in range(passes):
        try:
            win_offers.run_due_wins(clock.now())
        except Crash:
            injector.revive()
        except Exception as exc:  # noqa: BLE001 - a failed invocation: the schedule runs the next minute
            print("runner failed:", type(exc).__name__)
        _later(240)  # past a lost sender's hold on an SMS (SMS_LEASE_SECONDS)


def _later(seconds: float) -> None:
    _NOW[0] += seconds


_NOW = [0.0]


def _decline(injector: Injector, shopper: str, pick: str) -> str:
    """The shopper's page: sends the decline again after a 503 or a dropped connection."""
    for _ in range(6):
        try:
            return wins.decline(shopper, DRAW_ID, pick)["status"]
        except Crash:
            injector.revive()
        except ServiceBusy:
            continue
        except Exception as exc:
            if not aws.transient(exc):  # the API answers these 503 too, and the page sends again
                raise
    raise AssertionError("the decline never got an answer")


def _state(world: dict, told: list) -> dict:
    dump = _tables({s: f"SHOPPER{i}" for i, s in enumerate(world["shoppers"])})
    steady = {}
    for table, rows in dump.items():
        cleaned = []
        for row in rows:
            item = {k: v for k, v in json.loads(row).items() if k not in _TRIES}
            cleaned.append(_SEALED.sub("<sealed>", _INSTANT.sub("<t>", json.dumps(item, sort_keys=True))))
        steady[table] = sorted(cleaned)
    texts = sorted((m.to, _INSTANT.sub("<t>", m.text)) for m in memory_sender().messages)
    return {"told": told, "tables": steady, "texts": texts}


def test_a_forfeit_and_a_decline_promote_each_alternate_once_and_text_each_once_whatever_fails(store, injector, sms):
    start = float(int(time.time()))

    def reset() -> None:
        _empty_tables()
        memory_sender().clear()
        _NOW[0] = start

    def run(world: dict) -> list:
        _runner_passes(injector, 3)  # forfeits pick 1, promotes alternate 1 (pick 2), texts them
        told = [_decline(injector, world["shoppers"][1], "2")]  # alternate 1 declines: alternate 2 (pick 3)
        _runner_passes(injector, 3)  # texts alternate 2
        return told

    with clock.replaced(lambda: _NOW[0], steady=time.monotonic):
        proof = prove(
            injector,
            reset=reset,
            setup=_world,
            run=run,
            state=_state,
            choose=(lambda k, kind: True) if FULL else (lambda k, kind: KINDS.index(kind) == k % len(KINDS)),
        )
        final = _state({"shoppers": [shopper_id(p) for p in PHONES]}, [])
    print(f"wins: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
    assert proof.runs
    statuses = [(int(w.pick), w.status, w.passed_to) for w in Win.query(DRAW_ID)]
    assert statuses == [(1, "forfeited", "pick:2"), (2, "declined", "pick:3"), (3, "offered", None)]
    assert int(Draw.get(DRAW_ID).promoted) == 2
    assert [t[0] for t in final["texts"]] == sorted(
        PHONES[1:]
    )  # each alternate told once; the winner's SMS was the draw's


def _race(actions: list) -> None:
    """Run `actions` in threads started together; anything but a 503 is a failure."""
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def play(action) -> None:
        barrier.wait()
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=play, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [e for e in errors if not isinstance(e, ServiceBusy)], errors


def test_runners_and_the_shopper_racing_in_threads_promote_and_text_exactly_once(store, sms):
    _NOW[0] = float(int(time.time()))
    with clock.replaced(lambda: _NOW[0], steady=time.monotonic):
        _empty_tables()
        world = _world()
        runner = lambda: win_offers.run_due_wins(clock.now())  # noqa: E731 - one line, used below
        decline = lambda: wins.decline(world["shoppers"][1], DRAW_ID, "2")  # noqa: E731
        _race([runner] * 6)  # forfeit pick 1, promote and text alternate 1
        _NOW[0] += 240
        _race([runner] * 4 + [decline] * 2)  # alternate 1 declines while runners run
        _NOW[0] += 240
        _race([runner] * 6)  # text alternate 2
    statuses = [(int(w.pick), w.status) for w in Win.query(DRAW_ID)]
    assert statuses == [(1, "forfeited"), (2, "declined"), (3, "offered")]
    assert int(Draw.get(DRAW_ID).promoted) == 2
    assert sorted(m.to for m in memory_sender().messages) == sorted(PHONES[1:])
