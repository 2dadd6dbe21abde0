#!/usr/bin/env bash
# One command, fresh machine to full test run: install (Python deps, Debian's Chromium for the
# browser test), lint, format check, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/install_chromium.sh
uv run ruff check .
uv run ruff format --check .
uv run pytest "$@"
