#!/usr/bin/env bash
# One command, fresh machine to full test run: install, lint, format check, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
uv run ruff check .
uv run ruff format --check .
uv run pytest "$@"
