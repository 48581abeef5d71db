"""Voucher pools on DynamoDB Local: files sent twice at once, overlapping files at once, an edit racing an
upload, a file left unpublished while a later one publishes; then every unit redeemed, each code once."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters import records, reward_store
from chalicelib.adapters.models import Reward, VoucherUpload
from chalicelib.domain.errors import Conflict, InvalidFile, ServiceBusy
from chalicelib.domain.lifecycle import VoucherFileStatus
from chalicelib.services import redemptions, rewards, scans
from tests.functional.test_scans import BRAND, IP, running  # noqa: F401 - fixture
from tests.integration.test_scans_on_dynamodb_local import generous_limits  # noqa: F401 - fixture

SHOPPER = "shp_pool0001"


def _codes(prefix: str, first: int, count: int) -> list[str]:
    return [f"{prefix}-{n:05d}" for n in range(first, first + count)]


def _file(codes: list[str]) -> bytes:
    return ("\n".join(codes) + "\n").encode()


@pytest.fixture
def reward_id(running, generous_limits) -> str:
    """A voucher reward of 1 point, and a shopper with points enough for every unit of these tests."""
    _, _, minted = running(quantity=1, rules={"points_per_scan": 5000, "entries_per_scan": 0})
    scans.claim_code(SHOPPER, IP, {"code": minted[0]})
    reward = rewards.create_reward(BRAND, "op", {"name": "Coffee", "kind": "voucher", "cost": 1})
    records.clear_cache()
    return reward["reward_id"]


def _redeem_every_unit(reward_id: str, round_: str = "a") -> list[str]:
    """Redeem until out of stock: the codes given, in order (a busy answer is sent again, a few times)."""
    given: list[str] = []
    for n in itertools.count():
        for _ in range(5):
            try:
                made = redemptions.redeem(SHOPPER, {"reward_id": reward_id}, f"unit-{round_}-{n}")
            except ServiceBusy:
                continue
            except Conflict as refused:
                assert refused.code == "out_of_stock", refused
                return given
            given.append(made["voucher_code"])
            break
        else:
            raise AssertionError(f"unit {n + 1} stayed busy: its voucher is missing")
    raise AssertionError("unreachable")


def _upload(reward_id: str, raw: bytes) -> dict | InvalidFile:
    try:
        return rewards.upload_vouchers(BRAND, reward_id, "op", raw)
    except InvalidFile as refused:
        return refused


def _at_once(*calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_one_file_sent_twice_at_once_is_added_once(reward_id):
    codes = _codes("TWIN", 0, 120)
    answers = _at_once(*[lambda: rewards.upload_vouchers(BRAND, reward_id, "op", _file(codes))] * 2)
    assert sorted((a["added"], a["already_added"]) for a in answers) == [(0, 120), (120, 0)]
    assert rewards.get_reward(BRAND, reward_id)["available"] == 120
    given = _redeem_every_unit(reward_id)
    assert sorted(given) == codes


def test_two_overlapping_files_at_once_put_each_code_in_stock_once(reward_id):
    first, second = _codes("OVER", 0, 100), _codes("OVER", 60, 100)  # 40 codes in both
    raced = _at_once(lambda: _upload(reward_id, _file(first)), lambda: _upload(reward_id, _file(second)))
    # The refused (perhaps both: each met the other's codes) add nothing; sent again, one of them is
    # added (unless the other is) and the other is refused naming the 40 shared lines.
    answers = [
        _upload(reward_id, _file(codes)) if isinstance(answer, InvalidFile) else answer
        for answer, codes in zip(raced, (first, second), strict=True)
    ]
    added = [codes for answer, codes in zip(answers, (first, second), strict=True) if isinstance(answer, dict)]
    assert len(added) == 1, answers
    refused = next(answer for answer in answers if isinstance(answer, InvalidFile))
    assert len(refused.lines) == 40  # type: ignore[attr-defined]
    assert rewards.get_reward(BRAND, reward_id)["available"] == 100
    assert sorted(_redeem_every_unit(reward_id)) == added[0]


def test_an_edit_between_numbering_and_writing_a_file_never_takes_its_numbers_back(reward_id, monkeypatch):
    # The edit reads the reward before the file is numbered and writes after: an edit that saved the
    # whole reward put the numbering counter back, and the next file overwrote this one's codes.
    read, numbered = threading.Event(), threading.Event()
    real_load, real_reserve = rewards.load_reward, reward_store.reserve

    def load_then_wait(*args, **kwargs):
        reward = real_load(*args, **kwargs)
        if threading.current_thread().name == "editor":
            read.set()
            numbered.wait(10)
        return reward

    def reserve_then_let_the_edit_land(*args, **kwargs):
        upload = real_reserve(*args, **kwargs)
        numbered.set()
        editor.join(10)
        return upload

    monkeypatch.setattr(rewards, "load_reward", load_then_wait)
    monkeypatch.setattr(reward_store, "reserve", reserve_then_let_the_edit_land)
    editor = threading.Thread(
        target=rewards.update_reward, args=(BRAND, reward_id, "op", {"name": "Tea"}), name="editor"
    )
    editor.start()
    assert read.wait(10)
    first, second = _codes("EDIT", 0, 60), _codes("EDIT", 60, 60)
    rewards.upload_vouchers(BRAND, reward_id, "op", _file(first))
    rewards.upload_vouchers(BRAND, reward_id, "op", _file(second))
    assert rewards.get_reward(BRAND, reward_id)["name"] == "Tea"
    assert sorted(_redeem_every_unit(reward_id)) == first + second


def test_a_file_left_unpublished_gives_nothing_while_a_later_file_gives_its_own(reward_id, monkeypatch):
    real_publish = reward_store.put_in_stock
    calls = itertools.count()

    def dies_the_first_time(*args, **kwargs):
        if next(calls) == 0:
            raise RuntimeError("the process died before publishing")
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(reward_store, "put_in_stock", dies_the_first_time)
    stalled, later = _codes("HALF", 0, 60), _codes("LATE", 0, 60)
    with pytest.raises(RuntimeError):
        rewards.upload_vouchers(BRAND, reward_id, "op", _file(stalled))
    rewards.upload_vouchers(BRAND, reward_id, "op", _file(later))
    assert rewards.get_reward(BRAND, reward_id)["available"] == 60
    assert sorted(_redeem_every_unit(reward_id)) == later
    # Sent again, the stalled file is finished, and its own codes are given.
    assert rewards.upload_vouchers(BRAND, reward_id, "op", _file(stalled))["added"] == 60
    assert sorted(_redeem_every_unit(reward_id, "b")) == stalled
    files = [u for u in VoucherUpload.query(reward_id) if u.upload_id.startswith("file#")]
    assert {u.status for u in files} == {VoucherFileStatus.PUBLISHED}
    reward = Reward.get(reward_id, consistent_read=True)
    assert (int(reward.stock), int(reward.issued)) == (120, 120)
