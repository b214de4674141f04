#!/usr/bin/env bash
# Headless Chromium for the test that opens `dfcnn inspect` and `dfcnn report` pages (Debian's
# `chromium` package, installed from apt when run as root). Without it that test skips.
set -euo pipefail

if command -v chromium >/dev/null; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing chromium from apt (for the HTML page tests)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
else
  echo "chromium not found: install it (e.g. sudo apt-get install chromium) to run the page tests" >&2
  exit 1
fi
