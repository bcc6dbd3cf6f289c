#!/usr/bin/env bash
# Debian's headless browser for the page's tests (make web-test): Playwright drives it through
# executable_path, since Playwright's own browser downloads are not reachable from CI or here.
# Quiet when installed (tools/apt-ensure.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# fonts: the page's text renders the same on a bare machine
"$root/tools/apt-ensure.sh" install-chromium chromium fonts-dejavu-core
