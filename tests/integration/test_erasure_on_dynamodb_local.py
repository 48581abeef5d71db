"""Deleting an account on DynamoDB Local: afterwards no table holds a value derived from the phone number or the
delivery details, the draw still verifies (verify_draw.py MATCH) and the figures are unchanged; a fault at every
AWS call of the deletion ends in the same state."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib.adapters import dynamo, erasure_store, limits
from chalicelib.adapters.models import (
    CodeState,
    DrawWinner,
    Member,
    OtpChallenge,
    Participant,
    Redemption,
    ShopperAccount,
    Win,
)
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock, phones
from chalicelib.services import erasure, shoppers
from tests.faults import KINDS, Crash, Injector, prove
from tests.functional.test_draws import PHONES, _csv, memory_sms, world  # noqa: F401
from tests.functional.test_erasure import _code_sent, _delivered_winner, _sealed_values, found_in_tables
from tests.functional.test_wins import ACCEPT
from tests.integration.test_faults_on_dynamodb_local import FULL, _empty_tables, _tables, injector  # noqa: F401
from tests.integration.test_wins_on_dynamodb_local import DRAW_ID, drawn_draw
from tests.support import shopper_id, shopper_token

pytestmark = pytest.mark.timeout(900)
ROOT = Path(__file__).resolve().parents[2]
BRAND = "brand-a"
PHONE = "+84912340007"
CAMPAIGN = "cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV"  # drawn_draw's
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ][0-9:.]+(Z|\+00:00| UTC)?")
_SEALED = re.compile(r"v1:[A-Za-z0-9_=-]+")


def _verify(api, draw_id: str, folder: Path) -> str:
    (folder / "draw.json").write_bytes(api.call("GET", f"/v1/draws/{draw_id}").body)
    (folder / "entries.csv").write_bytes(_csv(api, draw_id))
    command = [sys.executable, "-I", "-S", str(ROOT / "scripts" / "verify_draw.py"), "--draw", "draw.json"]
    checked = subprocess.run([*command, "--csv", "entries.csv"], capture_output=True, text=True, cwd=folder)
    return checked.stdout + checked.stderr


def test_after_a_deletion_no_table_holds_the_number_or_the_delivery_and_the_draw_still_verifies(
    api, world, memory_sms, tmp_path
):
    draw_id, shopper, phone = _delivered_winner(api, world, memory_sms)
    token = shopper_token(phone)
    sealed = _sealed_values(shopper, draw_id)
    assert _verify(api, draw_id, tmp_path).startswith("MATCH")
    stats = api.json("GET", f"/v1/campaigns/{world['campaign_id']}/stats")
    assert found_in_tables(phone, sealed)
    api.json("POST", "/v1/me/deletion", token=token, expect=202)
    api.json("POST", "/v1/me/deletion/confirm", {"otp": _code_sent(memory_sms, phone)}, token=token)
    assert found_in_tables(phone, sealed) == []
    assert _verify(api, draw_id, tmp_path).startswith("MATCH")
    after = api.json("GET", f"/v1/campaigns/{world['campaign_id']}/stats")
    assert {**after, "as_of": None} == {**stats, "as_of": None}


# --- a fault at every call ------------------------------------------------------------------


def _claims(sid: str, claims: int, others: int) -> None:
    """`claims` claim records of the shopper among `others` of other shoppers (benchmarks/bench_erasure.py)."""
    with CodeState.batch_write() as batch:
        for i in range(claims + others):
            owner = sid if i < claims else f"shp_OTHER{i % 97:021d}"
            at = clock.now() - timedelta(seconds=i)
            batch.save(
                CodeState(
                    f"1:{i}",
                    state="claimed",
                    batch_id="bat_x",
                    brand_id=BRAND,
                    campaign_id=CAMPAIGN,
                    changed_at=at,
                    changed_by=owner,
                    shopper_id=owner,
                    points=10,
                )
            )


def shopper_with_everything(phone: str = PHONE, claims: int = 4, others: int = 0) -> dict:
    """One shopper with everything a deletion removes, its deletion confirmed: an account, a pending sign-in
    code and its limit counter, points with a brand, `claims` claims and their campaign standing, a delivered
    win (details and ID number) of a drawn draw that shows their masked number, a shipped gift with its
    delivery details; `others` claims of other shoppers around them."""
    pepper = get_phone_hash_pepper()
    number = phones.normalise_phone(phone, ("VN", "PH"))
    hashed = phones.phone_hash(number.e164, pepper)
    now = clock.now()
    sid = shoppers.record_account(number, pepper, now)  # the account a sign-in opens
    OtpChallenge(
        hashed, challenge_id="c1", code_hash="h", tries=0, expires_at=now + timedelta(minutes=5), created_at=now
    ).save()
    limits.hit(shoppers.OTP_PHONE_LIMIT, hashed, limit=5, window_seconds=3600, message="busy")
    month = now.strftime("%Y-%m")
    points = 10 * claims
    member = {"brand_id": BRAND, "shopper_id": sid, "balance": points, f"l#{month}": points, f"e#{month}": points}
    dynamo.client().put_item(
        TableName=Member.Meta.table_name,
        Item={k: ({"S": v} if isinstance(v, str) else {"N": str(v)}) for k, v in member.items()},
    )
    _claims(sid, claims, others)
    Participant(CAMPAIGN, sid, points=points, entries=claims, claims=claims).save()
    row = DrawWinner(rank=1, participant_id="mbr_1", shopper_id=sid, entries=claims, phone_masked=number.masked)
    drawn_draw(BRAND, [row], [], now - timedelta(days=3))
    win = Win.get(DRAW_ID, 1)
    sealed_delivery = phones.seal_text(json.dumps(ACCEPT), pepper, "delivery")
    sealed_id = phones.seal_text(ACCEPT["id_number"], pepper, "win-id-number")
    win.update(
        actions=[
            Win.status.set("delivered"),
            Win.delivery_sealed.set(sealed_delivery),
            Win.id_number_sealed.set(sealed_id),
        ]
    )
    Redemption(
        "rdm_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        brand_id=BRAND,
        shopper_id=sid,
        reward_id="rwd_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        reward_name="Cap",
        kind="gift",
        cost=10,
        status="shipped",
        delivery_sealed=phones.seal_text(json.dumps(ACCEPT), pepper, "redemption-delivery"),
        request_digest=phones.keyed_hash(pepper, "redeem", json.dumps(ACCEPT)),
        created_at=now,
        updated_at=now,
    ).save()
    assert erasure_store.start(sid, now)  # what the confirming call records before it runs the steps
    account = ShopperAccount.get(sid)
    return {"shopper": sid, "sealed": {account.phone_sealed, sealed_delivery, sealed_id}}


def _finish(injector: Injector, sid: str) -> None:
    """The confirming call, then the every-minute run until the deletion is done (each a fresh invocation)."""
    for attempt in range(10):
        try:
            if attempt == 0:
                erasure.run(sid)
            else:
                erasure.resume_running()
        except Crash:
            injector.revive()
        except Exception as exc:  # noqa: BLE001 - a failed invocation: the next run finishes it
            print("run failed:", type(exc).__name__)
        account = ShopperAccount.get(sid, consistent_read=True)
        if account.erasure_status == "done":
            return


def _state(ctx: dict, told: object) -> dict:
    dump = _tables({ctx["shopper"]: "SHOPPER"})
    steady = {}
    for table, rows in dump.items():
        steady[table] = sorted(_SEALED.sub("<sealed>", _INSTANT.sub("<t>", row)) for row in rows)
    return {"tables": steady, "found": found_in_tables(PHONE, ctx["sealed"])}


def test_a_deletion_ends_in_the_same_state_whatever_fails(store, injector):
    start = float(int(time.time()))
    now = [start]

    def reset() -> None:
        _empty_tables()
        now[0] = start

    made: list[str] = []  # each run's shopper: a new account, so a new random id

    def setup() -> dict:
        ctx = shopper_with_everything()
        made.append(ctx["shopper"])
        return ctx

    with clock.replaced(lambda: now[0], steady=time.monotonic):
        proof = prove(
            injector,
            reset=reset,
            setup=setup,
            run=lambda ctx: _finish(injector, ctx["shopper"]),
            state=_state,
            choose=(lambda k, kind: True) if FULL else (lambda k, kind: KINDS.index(kind) == k % len(KINDS)),
        )
        final = _state({"shopper": made[-1], "sealed": set()}, None)
    print(f"erasure: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
    assert proof.runs
    assert final["found"] == []
    assert ShopperAccount.get(made[-1]).erasure_status == "done"
    # The number signing in again opens a new account: nothing leads from it to the deleted one.
    assert shopper_id(PHONE) not in made
