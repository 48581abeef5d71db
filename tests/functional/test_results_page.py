"""The public results page: every draw of a campaign with its proofs and masked picks, as HTML and JSON,
in three languages, at a bounded cost, checkable by verify_draw.py from the public files alone."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from datetime import timedelta

import botocore.client
import pytest

from chalicelib.adapters.models import Participant
from chalicelib.domain import clock
from chalicelib.pages import results as page
from chalicelib.services import batches, campaigns, draw_runner
from chalicelib.views import results
from tests.functional.test_draws import BRAND, PHONES, _claims, _schedule, at, memory_sms, world  # noqa: F401
from tests.functional.test_openapi import _check
from tests.support import VALID_CAMPAIGN

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _public(api, path: str, **headers: str):
    """A GET as anyone: no token at all."""
    return api.client.http.get(path, headers=headers)


def _drawn(api, world, **changes) -> dict:
    """A campaign with two draws: one drawn (2 winners, 2 alternates), one still scheduled."""
    t0 = world["t0"]
    _claims(world, [1, 2, 3, 1, 4, 2], t0 + timedelta(minutes=1))
    drawn = _schedule(api, world, alternates=2, **changes)
    later = _schedule(api, world, name="Monthly draw", draw_at=(t0 + timedelta(days=20)).isoformat())
    with at(t0 + timedelta(hours=1, minutes=5)):
        draw_runner.run_draw(BRAND, drawn["draw_id"], "op")
    return {"drawn": drawn["draw_id"], "later": later["draw_id"]}


def _entries(api, draw_id: str) -> bytes:
    parts, cursor = [], None
    while True:
        answer = _public(api, f"/results/draws/{draw_id}/entries.csv" + (f"?cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.body
        parts.append(answer.body)
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            return b"".join(parts)


def _no_private_data(text: str) -> None:
    assert "shp_" not in text and "shopper_id" not in text and "seed_sealed" not in text
    for phone in PHONES:
        assert phone not in text and phone[3:] not in text and phone[-9:] not in text


def test_the_page_shows_every_draw_its_proofs_and_masked_picks_to_anyone(api, world, memory_sms):
    ids = _drawn(api, world)
    answer = _public(api, f"/results/{world['campaign_id']}?lang=en")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    html = answer.body.decode()
    data = api.json("GET", f"/results/{world['campaign_id']}?format=json", token="")
    _check(data, "Results")
    assert data["campaign"]["campaign_id"] == world["campaign_id"]
    assert [d["draw_id"] for d in data["draws"]] == sorted([ids["drawn"], ids["later"]])
    drawn = next(d for d in data["draws"] if d["draw_id"] == ids["drawn"])
    later = next(d for d in data["draws"] if d["draw_id"] == ids["later"])
    operator = api.json("GET", f"/v1/draws/{ids['drawn']}")
    for field in ("seed_commitment", "snapshot_sha256", "seed", "entries_total", "participants", "prize"):
        assert drawn[field] == operator[field] and str(drawn[field]) in html, field
    assert drawn["prize_id"] == operator["prize_id"] == world["prize_id"]  # the line's id: data, not words
    assert [(w["rank"], w["participant_id"], w["phone"]) for w in drawn["winners"]] == [
        (w["rank"], w["participant_id"], w["phone"]) for w in operator["winners"]
    ]
    assert len(drawn["winners"]) == 2 and len(drawn["alternates"]) == 2
    # Each winner has a win, offered to them; no alternate is promoted yet.
    assert {w["status"] for w in drawn["winners"]} == {"offered"} and {a["status"] for a in drawn["alternates"]} == {
        "waiting"
    }
    assert all(p["initials"] is None and "•" in p["phone"] for p in drawn["winners"] + drawn["alternates"])
    for pick in drawn["winners"] + drawn["alternates"]:
        assert pick["phone"] in html and pick["participant_id"] in html
    # Scheduled, not yet frozen: the commitment and the cut are public, nothing else yet.
    assert later["seed_commitment"] in html and later["snapshot_sha256"] is None and later["seed"] is None
    assert later["winners"] == [] and later["entries_csv"] is None and later["verify"] is None
    assert (
        drawn["verify"]
        == f"python3 verify_draw.py --draw draw.json --csv entries.csv --commitment {drawn['seed_commitment']}"
    )
    assert drawn["verify"] in html and f'href="draws/{ids["drawn"]}/entries.csv"' in html
    assert "Grand draw" in html and "Monthly draw" in html and VALID_CAMPAIGN["name"] in html
    for text in (html, json.dumps(data)):
        _no_private_data(text)


def test_the_public_files_verify_with_the_commitment_shown(api, world, memory_sms, tmp_path):
    ids = _drawn(api, world)
    draw = api.json("GET", f"/results/draws/{ids['drawn']}", token="")
    _check(draw, "ResultDraw")
    snapshot = _entries(api, ids["drawn"])
    assert hashlib.sha256(snapshot).hexdigest() == draw["snapshot_sha256"]
    (tmp_path / "draw.json").write_text(json.dumps(draw))
    (tmp_path / "entries.csv").write_bytes(snapshot)
    command = draw["verify"].replace("verify_draw.py", str(ROOT / "scripts" / "verify_draw.py")).split()
    command[0] = sys.executable
    checked = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.startswith("MATCH"), checked.stdout + checked.stderr
    _no_private_data(json.dumps(draw) + snapshot.decode())


def test_the_snapshot_is_public_only_once_frozen_and_bad_requests_name_their_field(api, world):
    _claims(world, [1, 1], world["t0"] + timedelta(minutes=1))
    scheduled = _schedule(api, world)
    early = _public(api, f"/results/draws/{scheduled['draw_id']}/entries.csv")
    assert early.status_code == 409 and json.loads(early.body)["error"]["field"] == "status"
    assert _public(api, "/results/draws/drw_01ARZ3NDEKTSV4RRFFQ69G5FAW").status_code == 404
    assert _public(api, "/results/draws/not-a-draw/entries.csv").status_code == 404
    bad = _public(api, f"/results/{world['campaign_id']}?format=xml")
    assert bad.status_code == 400 and json.loads(bad.body)["error"]["field"] == "format"
    twice = _public(api, f"/results/{world['campaign_id']}?format=json&format=json")
    assert twice.status_code == 400 and json.loads(twice.body)["error"]["field"] == "format"


@pytest.mark.parametrize(
    ("query", "accept", "lang", "words"),
    [
        ("?lang=en", "", "en", "Lucky draw results"),
        ("?lang=vi", "en", "vi", "Kết quả quay số trúng thưởng"),
        ("", "fil-PH,en;q=0.5", "fil", "Mga resulta ng raffle"),
        ("", "tl", "fil", "Mga resulta ng raffle"),
        ("", "", "vi", "Kết quả quay số trúng thưởng"),
    ],
)
def test_the_page_speaks_the_language_asked_for(api, world, memory_sms, query, accept, lang, words):
    _drawn(api, world)
    answer = _public(api, f"/results/{world['campaign_id']}{query}", **({"Accept-Language": accept} if accept else {}))
    html = answer.body.decode()
    assert answer.status_code == 200 and answer.headers["Content-Language"] == lang
    assert f'<html lang="{lang}">' in html and words in html
    assert "{" not in re.sub(r"<style>.*?</style>", "", html)  # every placeholder filled
    strings = page.STRINGS[lang]
    assert strings["h_winners"] in html and strings["h_alternates"] in html and strings["ps_waiting"] in html


def test_the_page_carries_no_script_and_its_style_by_hash_under_50_kb(api, world, memory_sms):
    _drawn(api, world)
    answer = _public(api, f"/results/{world['campaign_id']}")
    html = answer.body.decode()
    policy = answer.headers["Content-Security-Policy"]
    assert "<script" not in html and "script-src 'none'" in policy and "unsafe" not in policy
    style = re.search(r"<style>(.*?)</style>", html, flags=re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert len(answer.body) < 50_000 and answer.headers["Cache-Control"] == "no-store"


def test_an_unknown_or_unpublished_campaign_is_not_found_and_one_without_draws_lists_none(api, world, store):
    for missing in ("cmp_01ARZ3NDEKTSV4RRFFQ69G5FAW", "nonsense"):
        html = _public(api, f"/results/{missing}?lang=en")
        assert html.status_code == 404 and "Results not found" in html.body.decode()
        assert "Content-Security-Policy" in html.headers
        assert _public(api, f"/results/{missing}?format=json").status_code == 404
    # A draft with no draw has published nothing, even with a batch minted.
    draft = campaigns.create_campaign(BRAND, "op", VALID_CAMPAIGN)
    batches.mint_batch(BRAND, draft["campaign_id"], "op", {"sku": "NOODLE", "quantity": 2})
    assert _public(api, f"/results/{draft['campaign_id']}").status_code == 404
    # The world's campaign is active with a batch and no draw yet: an empty list.
    data = api.json("GET", f"/results/{world['campaign_id']}?format=json", token="")
    assert data["draws"] == []
    assert page.STRINGS["en"]["none"] in _public(api, f"/results/{world['campaign_id']}?lang=en").body.decode()


class _Requests:
    """Every DynamoDB request while installed: (operation, table or index)."""

    def __enter__(self):
        self.seen: list[tuple[str, str]] = []
        self._real = real = botocore.client.BaseClient._make_api_call

        def recording(client, operation, params):
            where = params.get("TableName") or ",".join(params.get("RequestItems") or {})
            self.seen.append((operation, where + (f"/{params['IndexName']}" if params.get("IndexName") else "")))
            return real(client, operation, params)

        botocore.client.BaseClient._make_api_call = recording
        return self

    def __exit__(self, *_):
        botocore.client.BaseClient._make_api_call = self._real


def test_one_page_costs_the_same_few_reads_whatever_the_participants(api, world, memory_sms):
    t0 = world["t0"]
    _claims(world, [1, 2, 3, 1, 4, 2], t0 + timedelta(minutes=1))
    # 5,000 more participants with entries by the cut: the snapshot needs two pages of 4,000 lines.
    with Participant.batch_write() as writing:
        for n in range(5000):
            writing.save(
                Participant(
                    world["campaign_id"], f"shp_{n:026d}", entries=1, claims=1, last_claim_at=t0 + timedelta(minutes=2)
                )
            )
    big = _schedule(api, world, winners=3, alternates=3)
    with at(t0 + timedelta(hours=1, minutes=5)):
        done = draw_runner.run_draw(BRAND, big["draw_id"], "op")
    assert done["participants"] == 5006

    costs = {}
    for shown in ("", "?format=json", "?lang=fil"):
        with _Requests() as requests:
            assert _public(api, f"/results/{world['campaign_id']}{shown}").status_code == 200
        costs[shown] = requests.seen
    for seen in costs.values():
        # The campaign, its draws, and the one drawn draw's wins (one Query a drawn draw: at most ten).
        assert sorted(op for op, _ in seen) == ["GetItem", "Query", "Query"], seen
        assert any(where.endswith("-wins") for _, where in seen)
        assert any(where.endswith("draws/by_campaign") for _, where in seen)
        assert not any("participants" in where or "draw_pages" in where for _, where in seen), seen
    # The snapshot's two pages are public and verify; the page names how to follow them.
    data = api.json("GET", f"/results/{world['campaign_id']}?format=json", token="")
    assert data["draws"][0]["snapshot_pages"] == 2
    snapshot = _entries(api, big["draw_id"])
    assert snapshot.count(b"\n") == 5007 and hashlib.sha256(snapshot).hexdigest() == done["snapshot_sha256"]
    assert "X-Next-Cursor" in _public(api, f"/results/{world['campaign_id']}?lang=en").body.decode()


def test_each_picks_status_and_initials_come_from_claim_states(api, world, memory_sms, monkeypatch):
    ids = _drawn(api, world)

    def claimed(draw):
        states = {key: results.ClaimState(str(state.status)) for key, state in _real(draw).items()}
        states[(results.WINNER, 1)] = results.ClaimState("forfeited", None)
        states[(results.WINNER, 2)] = results.ClaimState("delivered", "N.V.A.")
        states[(results.ALTERNATE, 1)] = results.ClaimState("promoted", "T.T.B.")
        return states

    _real = results.claim_states
    monkeypatch.setattr(results, "claim_states", claimed)
    data = api.json("GET", f"/results/{world['campaign_id']}?format=json", token="")
    drawn = next(d for d in data["draws"] if d["draw_id"] == ids["drawn"])
    assert [(w["status"], w["initials"]) for w in drawn["winners"]] == [("forfeited", None), ("delivered", "N.V.A.")]
    assert [(a["status"], a["initials"]) for a in drawn["alternates"]] == [("promoted", "T.T.B."), ("waiting", None)]
    html = _public(api, f"/results/{world['campaign_id']}?lang=en").body.decode()
    for words in ("Forfeited", "Delivered", "N.V.A.", "Promoted", "T.T.B.", "Waiting"):
        assert words in html


def test_the_shopper_page_links_to_the_results(api, world):
    with clock.replaced(lambda: (world["t0"] + timedelta(minutes=1)).timestamp()):
        html = _public(api, f"/s/{world['codes'][0]}?lang=en").body.decode()
    assert f'href="../results/{world["campaign_id"]}"' in html


def test_all_ten_draws_a_campaign_may_have_are_on_the_page_for_two_reads(api, world):
    scheduled = [_schedule(api, world, name=f"Draw {n}", winners=1) for n in range(10)]
    with _Requests() as requests:
        data = api.json("GET", f"/results/{world['campaign_id']}?format=json", token="")
    assert [d["draw_id"] for d in data["draws"]] == sorted(d["draw_id"] for d in scheduled)
    assert sorted(op for op, _ in requests.seen) == ["GetItem", "Query"], requests.seen
    html = _public(api, f"/results/{world['campaign_id']}?lang=en").body.decode()
    assert all(d["seed_commitment"] in html for d in scheduled) and len(html.encode()) < 50_000
