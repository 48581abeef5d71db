#!/usr/bin/env python3
"""Print the registry of personal data (chalicelib/domain/personal_data.py) as docs/privacy.md's table."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.domain.personal_data import markdown_table

if __name__ == "__main__":
    sys.stdout.write(markdown_table())
