"""Voucher files too large for one request: the job that finishes them on the worker's queue, their progress,
and withdrawing one that is still writing (over moto; the races are proven on DynamoDB Local)."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.models import AuditEvent, Reward, Voucher, VoucherUpload
from chalicelib.services import exports, rewards
from tests.functional.test_exports import drain, queue, store  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(120)
CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def slow(monkeypatch):
    """One transaction of codes per request, and one per job message: every path of a long file is taken."""
    monkeypatch.setattr(rewards, "WRITE_SECONDS", 0.0)
    monkeypatch.setattr(exports, "VOUCHER_JOB_SECONDS", 0.0)


def _reward(api) -> str:
    return api.json("POST", "/v1/rewards", {"name": "Code", "kind": "voucher", "cost": 10}, expect=201)["reward_id"]


def _file(prefix: str, count: int) -> str:
    return "code\n" + "".join(f"{prefix}-{n:04d}\n" for n in range(count))


def _code_items(reward_id: str) -> list[VoucherUpload]:
    return [i for i in VoucherUpload.query(reward_id) if i.upload_id.startswith("code#")]


def _events(reward_id: str, action: str) -> list[AuditEvent]:
    return [e for e in AuditEvent.query("brand-a") if e.action == action and e.target == reward_id]


def test_a_file_not_written_in_time_is_finished_by_a_job_and_shows_its_progress(api, queue, slow):
    reward_id = _reward(api)
    path = f"/v1/rewards/{reward_id}/vouchers"
    response = api.call("POST", path, raw=_file("JOB", 150), headers=CSV)
    assert response.status_code == 202
    answer = response.json_body
    assert (answer["status"], answer["written"], answer["total"], answer["added"]) == ("writing", 49, 150, 0)
    assert answer["reward"]["stock"] == 0  # nothing is in stock before all of it is written
    assert response.headers["Location"] == f"{path}/{answer['upload_id']}"
    progress = api.json("GET", response.headers["Location"], role="viewer")
    assert (progress["status"], progress["written"], progress["total"]) == ("writing", 49, 150)
    assert api.json("GET", f"/v1/rewards/{reward_id}")["stock"] == 0

    assert drain(queue) == 3  # three more transactions of codes, one message each; the last publishes
    done = api.json("GET", response.headers["Location"])
    assert (done["status"], done["written"], done["total"]) == ("published", 150, 150)
    assert api.json("GET", f"/v1/rewards/{reward_id}")["stock"] == 150
    assert sorted(v.seq for v in Voucher.query(reward_id)) == list(range(1, 151))
    assert len(_code_items(reward_id)) == 150
    [event] = _events(reward_id, "vouchers_uploaded")  # published once, in the sender's name
    assert json.loads(event.details) == {"codes": 150} and event.actor == "user-1"
    listed = api.json("GET", f"{path}?limit=5")
    assert [(f["upload_id"], f["status"]) for f in listed["items"]] == [(answer["upload_id"], "published")]

    again = api.json("POST", path, raw=_file("JOB", 150), headers=CSV)  # sent again once in stock: nothing new
    assert (again["status"], again["added"], again["already_added"], again["reward"]["stock"]) == (
        "published",
        0,
        150,
        150,
    )
    assert drain(queue) == 0


def test_the_job_and_the_file_sent_again_at_the_same_time_write_each_code_once(api, queue, slow):
    reward_id = _reward(api)
    path = f"/v1/rewards/{reward_id}/vouchers"
    raw = _file("BOTH", 120)
    first = api.json("POST", path, raw=raw, headers=CSV, expect=202)
    second = api.json("POST", path, raw=raw, headers=CSV, expect=202)  # goes on from where the first stopped
    assert (first["written"], second["written"]) == (49, 98)
    drain(queue, duplicate=True)  # two jobs queued, each delivered twice
    assert api.json("GET", f"/v1/rewards/{reward_id}")["stock"] == 120
    assert sorted(v.seq for v in Voucher.query(reward_id)) == list(range(1, 121))
    assert len(_events(reward_id, "vouchers_uploaded")) == 1


def test_a_writing_file_is_withdrawn_whole_and_its_codes_can_come_again(api, queue, slow):
    reward_id = _reward(api)
    path = f"/v1/rewards/{reward_id}/vouchers"
    raw = _file("LEFT", 100)
    answer = api.json("POST", path, raw=raw, headers=CSV, expect=202)
    file_path = f"{path}/{answer['upload_id']}"
    api.json("POST", f"{file_path}/withdraw", {"note": "wrong file"}, expect=403, role="viewer")
    api.json("POST", f"{file_path}/withdraw", {}, expect=404, brand="brand-b")
    withdrawn = api.json("POST", f"{file_path}/withdraw", {"note": "wrong file"})
    assert (withdrawn["status"], withdrawn["reason"], withdrawn["written"]) == ("withdrawn", "wrong file", 0)
    assert list(Voucher.query(reward_id)) == [] and _code_items(reward_id) == []
    assert api.json("GET", file_path)["status"] == "withdrawn"
    assert api.json("POST", f"{file_path}/withdraw", {})["status"] == "withdrawn"  # again: the same answer
    [event] = _events(reward_id, "vouchers_withdrawn")
    assert json.loads(event.details)["upload_id"] == answer["upload_id"]

    drain(queue)  # the job queued before the withdrawal finds nothing to write
    assert list(Voucher.query(reward_id)) == [] and Reward.get(reward_id).stock == 0

    # Its codes, free again, come in another file; the same file sent again starts over.
    other = api.json("POST", path, raw=_file("LEFT", 10), headers=CSV)
    assert (other["status"], other["reward"]["stock"]) == ("published", 10)
    api.json("POST", path, raw=raw, headers=CSV, expect=400)  # ten of its codes are in the pool now
    assert api.json("GET", file_path)["status"] == "withdrawn"
    published = api.json("GET", f"{path}/{other['upload_id']}")
    assert published["status"] == "published"
    refused = api.json("POST", f"{path}/{other['upload_id']}/withdraw", {}, expect=409)
    assert refused["error"]["field"] == "status"


def test_a_file_id_that_is_not_one_is_not_found(api, queue):
    reward_id = _reward(api)
    for bad in ("nope", "0" * 64, "A" * 64):
        api.json("GET", f"/v1/rewards/{reward_id}/vouchers/{bad}", expect=404)
        api.json("POST", f"/v1/rewards/{reward_id}/vouchers/{bad}/withdraw", {}, expect=404)
    api.json("GET", f"/v1/rewards/{reward_id}/vouchers/{'0' * 64}", expect=404, brand="brand-b")
    api.json("GET", f"/v1/rewards/{reward_id}/vouchers?cursor=bad", expect=400)
