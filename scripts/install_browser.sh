#!/usr/bin/env bash
# Install headless Chromium from the Debian packages for the report page's browser test.
# Idempotent: does nothing when a chromium binary is already there. Needs root (CI runs as root)
# or passwordless sudo, and Debian's package registry. Exits non-zero when it cannot install.
# Usage: bash scripts/install_browser.sh
set -euo pipefail
for bin in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$bin" ]; then
    echo "chromium present: $bin"
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser.sh: no apt-get here; install Chromium yourself (or set SKILLRL_SKIP_BROWSER=1)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install_browser.sh: need root to apt-get install chromium (or set SKILLRL_SKIP_BROWSER=1)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
