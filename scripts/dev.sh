#!/usr/bin/env bash
# The one command to run the platform locally: setup, then DynamoDB Local + chalice local.
# DDB_PORT (default 8001) and API_PORT (default 8000) choose the ports; Ctrl-C stops all.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
# exec: signals sent to this script's pid reach dev.py, which stops everything it started.
exec .venv/bin/python -m scripts.dev "$@"
