#!/usr/bin/env bash
# The one test command (CI runs exactly this): setup, ruff and mypy, then pytest with any arguments given.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --browser
cd "$ROOT"
# Lint, format and types first: seconds, and a failure names the line.
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy --no-error-summary
# One worker more than there are CPUs: the DynamoDB Local and Chromium tests spend much of
# their time waiting (retry back-off, the browser), and each worker has its own engine.
# QRC_TEST_WORKERS=0 runs everything in this one process.
WORKERS="${QRC_TEST_WORKERS:-$(($(nproc) + 1))}"
exec .venv/bin/python -m pytest -n "$WORKERS" --dist worksteal "$@"
