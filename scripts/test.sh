#!/usr/bin/env bash
# The one test command (CI runs exactly this): setup, then pytest with any arguments given.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --browser
cd "$ROOT"
exec .venv/bin/python -m pytest "$@"
