"""The regulator's papers through the API: Vietnam's results report and the Philippines' winners list, CSV
and PDF, roles, masking, the audit trail, and the report's deadline on the draws list."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime, timedelta

import pypdfium2
import pytest

from chalicelib.adapters.models import AuditEvent, Draw, DrawWinner
from chalicelib.domain import reports as papers
from chalicelib.domain.csvfile import read_cell
from chalicelib.domain.lifecycle import DrawStatus, WinStatus
from chalicelib.views import reports as report_view
from tests.support import DRAW_LINE, VALID_CAMPAIGN, assert_safe_csv

# Owners see the winners' details in clear when they say why (docs/privacy.md): the filing is the why.
WHY = "?why=Filing%20the%20results%20report"
CSV = "/v1/campaigns/{}/reports/results.csv" + WHY
PDF = "/v1/campaigns/{}/reports/results.pdf" + WHY


def _campaign(api, market: str, line: dict, **changes) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    body = copy.deepcopy(VALID_CAMPAIGN)
    body.update(
        starts_at=(now - timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=30)).isoformat(),
        market=market,
        prizes=[{"name": "Sticker", "quantity": 100}, line],
        **changes,
    )
    return api.json("POST", "/v1/campaigns", body, expect=201)


def _drawn(api, campaign: dict, winners: int) -> dict:
    """A draw of the campaign's draw line, scheduled through the API, then recorded as drawn."""
    line = next(p for p in campaign["prizes"] if p["kind"] == "draw")
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "name": "Grand draw",
        "prize_id": line["prize_id"],
        "winners": winners,
        "draw_at": (now + timedelta(days=2)).isoformat(),
        "entries_until": (now + timedelta(days=1)).isoformat(),
        "one_win_per_participant": True,
    }
    scheduled = api.json("POST", f"/v1/campaigns/{campaign['campaign_id']}/draws", body, expect=201)
    draw = Draw.get(scheduled["draw_id"])
    draw.status = DrawStatus.DRAWN
    draw.drawn_at = draw.frozen_at = now + timedelta(days=2)
    draw.snapshot_sha256, draw.seed = "0" * 64, "1" * 64
    draw.entries_total, draw.participants, draw.snapshot_pages = 3 * winners, winners, 1
    draw.winners = [
        DrawWinner(rank=r, participant_id=f"mbr_WINNER{r:022d}", entries=3, phone_masked=f"+84 ••• ••• {r:03d}")
        for r in range(1, winners + 1)
    ]
    draw.save()
    return scheduled


def _details(monkeypatch, status: str = WinStatus.ACCEPTED) -> None:
    """Winners who claimed, with their details as given: through the report's one source of per-win facts."""
    given = report_view.awarded

    def claimed(draw: Draw) -> list[papers.AwardedPrize]:
        return [
            papers.AwardedPrize(
                draw_id=w.draw_id,
                rank=w.rank,
                participant_id=w.participant_id,
                status=status if w.rank == 1 else WinStatus.FORFEITED,
                name="Nguyễn Thị Ánh",
                address="=HYPERLINK(1), 12 Lê Lợi, Quận 1",
                id_number="079123456789",
                phone_masked=w.phone_masked,
            )
            for w in given(draw)
        ]

    monkeypatch.setattr(report_view, "awarded", claimed)


def _rows(text: str) -> list[dict[str, str]]:
    header, *rows = assert_safe_csv(text)
    return [{name: read_cell(cell) for name, cell in zip(header, row, strict=True)} for row in rows]


def test_vietnam_s_results_report_lists_the_structure_the_winners_and_what_was_not_awarded(api, store):
    campaign = _campaign(api, "VN", {**DRAW_LINE, "quantity": 5}, name="=Tết noodle promotion")
    draw = _drawn(api, campaign, 2)
    response = api.call("GET", CSV.format(campaign["campaign_id"]))
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/csv")
    assert f"vn-results-{campaign['campaign_id']}.csv" in response.headers["Content-Disposition"]
    rows = _rows(response.body.decode())
    assert {r["promotion"] for r in rows} == {"=Tết noodle promotion"}  # neutralised in the file, read back
    prizes = [r for r in rows if r["section"] == "prize"]
    assert [(p["prize_line"], p["count"], p["status"]) for p in prizes] == [
        ("Sticker", "100", "instant"),
        ("Motorbike draw", "5", "draw"),
    ]
    assert prizes[1]["unit_value"] == "40000000" and prizes[1]["registration"] == DRAW_LINE["registration"]
    winners = [r for r in rows if r["section"] == "winner"]
    assert [(w["rank"], w["participant_id"], w["status"], w["draw"]) for w in winners] == [
        ("1", "mbr_WINNER0000000000000000000001", "drawn", "Grand draw"),
        ("2", "mbr_WINNER0000000000000000000002", "drawn", "Grand draw"),
    ]
    # VND 40,000,000: 10% of the 30,000,000 above the threshold is withheld.
    assert {w["tax_withheld"] for w in winners} == {"3000000"}
    (undrawn,) = [r for r in rows if r["section"] == "not_drawn"]
    assert (undrawn["count"], undrawn["value_not_awarded"], undrawn["state_budget_share"]) == (
        "3",
        "120000000",
        "60000000",
    )
    assert "state budget" in undrawn["rule"]
    # Drawn as of now: the winners stand, nothing is waiting or given up.
    assert not [r for r in rows if r["section"] == "not_claimed"]
    events = [e for e in AuditEvent.query("brand-a") if e.action == "winners_viewed"]
    assert len(events) == 1 and events[0].target == campaign["campaign_id"]
    assert draw["draw_id"]


def test_owners_see_the_winners_details_as_given_managers_masked_viewers_nothing(api, store, monkeypatch):
    campaign = _campaign(api, "VN", {**DRAW_LINE, "quantity": 5})
    _drawn(api, campaign, 2)
    _details(monkeypatch)
    path = CSV.format(campaign["campaign_id"])
    owner = _rows(api.call("GET", path).body.decode())
    first, second = [r for r in owner if r["section"] == "winner"]
    assert (first["winner_name"], first["address"], first["id_number"], first["status"]) == (
        "Nguyễn Thị Ánh",
        "=HYPERLINK(1), 12 Lê Lợi, Quận 1",
        "079123456789",
        "accepted",
    )
    assert second["status"] == "forfeited"
    # The forfeited win had no alternate left: one prize not claimed, three never drawn.
    (lost,) = [r for r in owner if r["section"] == "not_claimed"]
    assert (lost["count"], lost["value_not_awarded"], lost["state_budget_share"]) == ("1", "40000000", "20000000")
    manager = _rows(api.call("GET", path, role="manager").body.decode())
    shown = [r for r in manager if r["section"] == "winner"][0]
    assert (shown["winner_name"], shown["address"], shown["id_number"]) == ("N•••", "•••", "•••89")
    viewers = api.call("GET", path, role="viewer")
    assert viewers.status_code == 403
    assert api.call("GET", PDF.format(campaign["campaign_id"]), role="viewer").status_code == 403
    # Only the owner's download is in the audit trail, with its why.
    (viewed,) = [e for e in AuditEvent.query("brand-a") if e.action == "winners_viewed"]
    assert json.loads(viewed.details)["why"] == "Filing the results report"
    # Without a why the owner's copy is masked as a manager's, and nothing more is audited.
    unsaid = _rows(api.call("GET", path.removesuffix(WHY)).body.decode())
    assert [r for r in unsaid if r["section"] == "winner"][0]["winner_name"] == "N•••"
    assert len([e for e in AuditEvent.query("brand-a") if e.action == "winners_viewed"]) == 1


def test_the_pdf_embeds_a_unicode_font_so_vietnamese_reads_back_intact(api, store, monkeypatch):
    campaign = _campaign(api, "VN", {**DRAW_LINE, "quantity": 5}, name="Khuyến mại Tết")
    _drawn(api, campaign, 2)
    _details(monkeypatch)
    response = api.call("GET", PDF.format(campaign["campaign_id"]), headers={"Accept": "application/pdf"})
    assert response.status_code == 200, response.body[:300]
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.body.startswith(b"%PDF-")
    assert b"/FontFile2" in response.body  # the TrueType font is embedded
    document = pypdfium2.PdfDocument(io.BytesIO(response.body))
    text = "\n".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    for expected in ("Giải thưởng", "Khuyến mại Tết", "Nguyễn Thị Ánh", "Lê Lợi, Quận 1", DRAW_LINE["registration"]):
        assert expected in text, expected
    assert "VND 120,000,000" in text  # three prizes never drawn, at their announced value
    assert "VND 60,000,000" in text  # half of it to the state budget


def test_the_philippines_winners_list_gives_value_tax_and_permit(api, store, monkeypatch):
    line = {**DRAW_LINE, "quantity": 3, "unit_value": 5_000_000, "registration": "FTEB-12345 s. 2026"}
    campaign = _campaign(api, "PH", line, timezone="Asia/Manila")
    _drawn(api, campaign, 1)
    _details(monkeypatch)
    rows = _rows(api.call("GET", CSV.format(campaign["campaign_id"])).body.decode())
    (winner,) = rows
    assert (winner["winner_name"], winner["prize"], winner["value"], winner["currency"]) == (
        "Nguyễn Thị Ánh",
        "Motorbike draw",
        "50000.00",
        "PHP",
    )
    assert (winner["tax_withheld"], winner["permit"]) == ("10000.00", "FTEB-12345 s. 2026")
    pdf = api.call("GET", PDF.format(campaign["campaign_id"]), headers={"Accept": "application/pdf"})
    text = pypdfium2.PdfDocument(io.BytesIO(pdf.body))[0].get_textpage().get_text_range()
    assert "List of winners" in text and "PHP 10,000.00" in text and "FTEB-12345 s. 2026" in text


def test_the_draws_list_says_when_the_report_is_due(api, store):
    campaign = _campaign(api, "VN", {**DRAW_LINE, "quantity": 5, "claim_days": 20})
    listed = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/draws")
    assert listed["report"] == {"kind": "vn_results", "market": "VN", "award_deadline": None, "due_at": None}
    draw = _drawn(api, campaign, 2)
    listed = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/draws")
    draw_at = datetime.fromisoformat(draw["draw_at"])
    award = draw_at + timedelta(days=20)
    assert listed["report"]["award_deadline"] == award.isoformat().replace("+00:00", "Z")
    assert listed["report"]["due_at"] == (award + timedelta(days=45)).isoformat().replace("+00:00", "Z")
    # A campaign with no market files no paper.
    unregistered = api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201)
    assert api.json("GET", f"/v1/campaigns/{unregistered['campaign_id']}/draws")["report"] is None


@pytest.mark.parametrize("path", [CSV, PDF])
def test_a_campaign_with_no_market_or_of_another_brand_has_no_report(api, store, path):
    unregistered = api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201)
    refused = api.call("GET", path.format(unregistered["campaign_id"]))
    assert refused.status_code == 409 and b'"field": "market"' in refused.body.replace(b'":"', b'": "')
    campaign = _campaign(api, "VN", {**DRAW_LINE, "quantity": 5})
    assert api.call("GET", path.format(campaign["campaign_id"]), brand="brand-b").status_code == 404
    assert not [e for e in AuditEvent.query("brand-a") if e.action == "winners_viewed"]
