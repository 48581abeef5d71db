"""The campaign managers' dashboard: one self-contained HTML page, Chart.js inlined, data fetched from the API."""

from __future__ import annotations

import functools
from typing import NamedTuple

from chalicelib.pages.assets import PAGES_DIR, built, csp_hash, template

__all__ = [
    "SCRIPT_SOURCE",
    "TOKEN_STORAGE_KEY",
    "TOTALS",
    "LOYALTY",
    "RETENTION",
    "render_dashboard",
    "content_security_policy",
    "response_headers",
]

_FOLDER = PAGES_DIR / "dashboard"
SCRIPT_SOURCE = _FOLDER / "dashboard.js"
"""The page's script as people read it; the page carries its minified build."""
# The operator token lives in this tab's sessionStorage only: gone when the tab closes.
TOKEN_STORAGE_KEY = "qrc.operatorToken"

# The totals tiles: (data-stat key = the JSON path in GET /stats, label). Grouped as shown.
TOTALS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Codes", (("codes.minted", "Minted"), ("codes.active", "Active"), ("codes.batches", "Batches"))),
    (
        "Scans",
        (
            ("scans.total", "All scans"),
            ("scans.granted", "Granted"),
            ("scans.duplicate", "Duplicate"),
            ("scans.invalid", "Invalid"),
            ("scans.refused_cap", "Refused: cap"),
            ("scans.refused_rate", "Refused: rate limit"),
            ("scans.refused_inactive", "Refused: inactive"),
        ),
    ),
    (
        "Participants",
        (("participants.unique", "Unique"), ("participants.new", "New"), ("participants.returning", "Returning")),
    ),
    ("Rewards", (("points_issued", "Points issued"), ("entries_issued", "Entries issued"))),
)


# The loyalty panel's tiles (GET /v1/loyalty/stats, brand-wide): data-stat is `loyalty.` + the JSON path.
LOYALTY: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Points",
        (
            ("loyalty.points.earned", "Earned"),
            ("loyalty.points.spent", "Spent"),
            ("loyalty.points.refunded", "Refunded"),
            ("loyalty.points.expired", "Expired"),
        ),
    ),
    (
        "Redemptions",
        (("loyalty.redemptions.total", "Redeemed"), ("loyalty.redemptions.cancelled", "Cancelled")),
    ),
)


# The privacy panel's tiles (GET /v1/retention, brand-wide): data-stat is `retention.` + the JSON path.
RETENTION: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Removed by the retention job",
        (
            ("retention.removed.deliveries", "Gifts' delivery details"),
            ("retention.removed.wins", "Closed wins' details"),
            ("retention.removed.accounts", "Inactive accounts"),
        ),
    ),
    (
        "Kept for (months)",
        (
            ("retention.delivery_months", "Delivery details after shipping"),
            ("retention.prize_record_months", "Win details after closing"),
            ("retention.inactive_account_months", "Accounts with no sign-in"),
        ),
    ),
)


class _Built(NamedTuple):
    page: str
    policy: str


@functools.cache
def _built() -> _Built:
    # Built once per process: the page has no per-request content, so the policy's
    # hashes are constants too. A missing asset raises and is retried next call.
    # Chart.js comes from npm (scripts/build_pages.py copies it into the build): chalice
    # deploys only app.py, chalicelib/ and requirements.txt, so it has to live in here.
    style, script, chart_js = built("dashboard.min.css"), built("dashboard.min.js"), built("chart.umd.js")
    page = template(_FOLDER, "dashboard.html").render(
        style=style, script=script, chart_js=chart_js, totals=TOTALS, loyalty=LOYALTY, retention=RETENTION
    )
    policy = (
        f"default-src 'none'; script-src {csp_hash(chart_js)} {csp_hash(script)}; style-src {csp_hash(style)}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return _Built(page, policy)


def render_dashboard() -> str:
    """The whole dashboard page; it signs in and reads the statistics API from the browser."""
    return _built().page


def content_security_policy() -> str:
    """Only the page's own inline script and style blocks (by hash), API calls to its own origin."""
    return _built().policy


def response_headers() -> dict[str, str]:
    """Headers for the dashboard answer."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": content_security_policy(),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
