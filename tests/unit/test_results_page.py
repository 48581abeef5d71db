"""The results page's words and markup: every string in every language, values escaped, no script."""

from __future__ import annotations

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
