#!/usr/bin/env bash
# Install (idempotent) and run the default test suite (slow checks deselected).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# headless Chromium for the report page's browser test (Debian package; needs root, as in CI).
# When it cannot be installed the browser test fails and says why; SKILLRL_SKIP_BROWSER=1 skips both.
if [ "${SKILLRL_SKIP_BROWSER:-0}" != "1" ]; then
  bash scripts/install_browser.sh || echo "warning: Chromium not installed; the browser test will fail" >&2
fi
if [ "$#" -eq 0 ]; then set -- -m "not slow"; fi
exec .venv/bin/python -m pytest -q "$@"
