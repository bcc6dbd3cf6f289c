#!/usr/bin/env bash
# Debian's headless browser for the page's tests (make web-test): Playwright drives it through
# executable_path, since Playwright's own browser downloads are not reachable from CI or here.
# Idempotent and quiet like clients/cpp/install-deps.sh: when chromium is installed it prints
# nothing and touches no index; `apt-get update` runs only when something is missing.
set -euo pipefail

PACKAGES=(chromium fonts-dejavu-core)  # fonts: the page's text renders the same on a bare machine

missing=()
for p in "${PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=()
[[ "$(id -u)" -ne 0 ]] && SUDO=(sudo)
echo "install-chromium: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
install() { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
# In CI the earlier make targets' installs have usually just refreshed the package lists: use
# them, and pay for `apt-get update` only when they are missing or stale.
install 2>/dev/null || { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq && install; }
