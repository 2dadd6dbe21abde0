#!/usr/bin/env bash
# Debian's Chromium for the dashboard's real-browser test (Playwright drives it through
# executable_path; no browser is downloaded). Skipped when it is there already; without root or
# apt the test skips locally and fails in CI, where it is required.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium not installed and no apt-get: the browser test will not run" >&2
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "chromium not installed and not root: the browser test will not run" >&2
    exit 0
  fi
fi
$sudo apt-get update -qq >/dev/null || true
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
