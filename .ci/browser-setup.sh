#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser test
# (test/browser/*.test.ts drive it with playwright-core, which never downloads a browser
# of its own). Idempotent: does nothing when Chromium is already there. Needs root (apt-get).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

echo "Installing Debian's chromium for the browser test..."
export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
apt-get update -qq > /dev/null
apt-get install -y -qq --no-install-recommends chromium > /dev/null

# Fail here, with a clear message, rather than later in the test.
if [ ! -x /usr/bin/chromium ]; then
  echo "apt-get installed chromium, but /usr/bin/chromium is missing." >&2
  exit 1
fi
echo "$(/usr/bin/chromium --version 2>/dev/null || echo chromium) installed."
