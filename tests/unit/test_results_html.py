"""The results page's words and markup: every string in every language, values escaped, no script."""

from __future__ import annotations

import html
import string

import pytest

from chalicelib.pages import results

RESULTS = {
    "campaign": {
        "campaign_id": "cmp_01ARZ3NDEKTSV4RRFFQ69G5FAW",
        "name": "<script>alert(1)</script> Tết",
        "starts_at": "2026-12-01T00:00:00Z",
        "ends_at": "2027-02-28T17:00:00Z",
        "timezone": "Asia/Ho_Chi_Minh",
    },
    "draws": [],
}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_exists_in_every_language_with_the_same_placeholders():
    keys = set(results.STRINGS["en"])
    for lang, strings in results.STRINGS.items():
        assert set(strings) == keys, f"{lang}: {sorted(set(strings) ^ keys)}"
        for key in keys:
            assert strings[key].strip(), (lang, key)
            assert _placeholders(strings[key]) == _placeholders(results.STRINGS["en"][key]), (lang, key)
    # Vietnamese and Filipino are real translations, not English left in place.
    for lang in ("vi", "fil"):
        same = {k for k in keys if results.STRINGS[lang][k] == results.STRINGS["en"][k]}
        assert same <= {"th_rank", "algorithm", "seed"}, (lang, sorted(same))


@pytest.mark.parametrize("lang", ["vi", "en", "fil"])
def test_values_are_escaped_and_the_page_runs_no_script(lang):
    page = results.render_results(RESULTS, lang)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; Tết" in page
    assert results.STRINGS[lang]["none"] in page
    assert f'<html lang="{lang}">' in page and "script-src 'none'" in results.content_security_policy()
    # The period is shown in the campaign's time zone: 28 Feb 17:00 UTC is 1 March, midnight, in Vietnam.
    assert {"vi": "1/3/2027 00:00", "en": "1 Mar 2027 00:00", "fil": "Marso 1, 2027 00:00"}[lang] in page


def test_a_status_the_strings_do_not_name_is_shown_as_it_is():
    assert results._picks([{"status": "on_hold"}], results.STRINGS["en"])[0]["status_text"] == "on_hold"
    assert results._picks([{"status": "forfeited"}], results.STRINGS["en"])[0]["status_text"] == "Forfeited"


def _pick(rank: int) -> dict:
    return {"rank": rank, "participant_id": "mbr_" + "Z" * 26, "entries": 999_999, "phone": "+84 91•••••78"}


def _longest_draw(number: int) -> dict:
    """A drawn draw with every text at its longest (120 characters, three bytes each) and 1,500 picks."""
    words = "Giải đặc biệt xe máy Honda " * 5
    return {
        "draw_id": f"drw_{number:026d}",
        "name": words[:120],
        "prize": words[:120],
        "prize_id": "prz_" + "Z" * 26,
        "winners_wanted": 1000,
        "alternates_wanted": 500,
        "one_win_per_participant": True,
        "algorithm": "qrc-draw-v1",
        "seed_commitment": "a" * 64,
        "entries_until": "2027-01-31T17:00:00Z",
        "draw_at": "2027-02-01T03:00:00Z",
        "beacon_source": words[:120],
        "status": "drawn",
        "set_aside": False,
        "snapshot_sha256": "b" * 64,
        "entries_total": 123_456_789,
        "participants": 1_000_000,
        "snapshot_pages": 250,
        "beacon": "05 11 23 30 38 42",
        "seed": "c" * 64,
        "drawn_at": "2027-02-01T03:01:00Z",
        "winners": [{**_pick(r), "initials": "N.V.A.", "status": "delivered"} for r in range(1, 1001)],
        "alternates": [{**_pick(r), "initials": None, "status": "waiting"} for r in range(1, 501)],
        "entries_csv": f"/results/draws/drw_{number:026d}/entries.csv",
        "verify": "python3 verify_draw.py --draw draw.json --csv entries.csv --commitment " + "a" * 64,
    }


@pytest.mark.parametrize("lang", ["vi", "en", "fil"])
def test_ten_of_the_largest_draws_stay_under_50_kb_and_say_where_the_rest_are(lang):
    longest = {**RESULTS, "campaign": {**RESULTS["campaign"], "name": "Khuyến mãi Tết " * 8}}
    page = results.render_results({**longest, "draws": [_longest_draw(n) for n in range(10)]}, lang)
    assert len(page.encode("utf-8")) < 50_000
    assert page.count("<tr data-status=") == results.PICKS_SHOWN
    assert page.count('class="more"') == 10 and 'href="draws/drw_00000000000000000000000000"' in page
    hidden = f"{1500 - results.PICKS_SHOWN:,}".replace(",", "." if lang == "vi" else ",")
    first = results.STRINGS[lang]["more_picks"].format(n=hidden)
    assert html.escape(first) in page  # the first draw shows PICKS_SHOWN of its 1,500 picks, the others none
