#!/usr/bin/env python3
"""Print the registry of personal data as docs/privacy.md's table: .venv/bin/python scripts/privacy_table.py."""

from __future__ import annotations

import sys


def main() -> int:
    """Print the table (chalicelib/domain/personal_data.py)."""
    from chalicelib.domain.personal_data import markdown_table

    sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
