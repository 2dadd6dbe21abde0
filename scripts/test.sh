#!/usr/bin/env bash
# One command, fresh machine to full test run: install (Python deps with the `cluster` extra,
# Debian's Chromium for the browser test), lint, format check, every test (tests/deploy starts
# scripts/cluster.sh's cluster, which installs Debian's PostgreSQL and Redis when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --extra cluster
scripts/install_chromium.sh
uv run ruff check .
uv run ruff format --check .
uv run pytest "$@"
