#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet:
#   tools/apt-ensure.sh LABEL PACKAGE...      (LABEL names the caller in the one line it prints)
# Idempotent and quiet: when everything is installed it prints nothing and touches no index.
# Otherwise it first tries the package lists already on the machine (in CI an earlier install
# has usually just refreshed them) and pays for `apt-get update` only when that fails.
# apt waits up to 10 min for a lock another apt holds (an unattended upgrade, a parallel build).
# CI runs it as root on a clean machine; elsewhere apt goes through sudo.
set -euo pipefail

label="$1"; shift
missing=()
for p in "$@"; do
  # "install ok installed" is dpkg's status for a fully installed package.
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=()
[[ "$(id -u)" -ne 0 ]] && SUDO=(sudo)
echo "$label: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt() { "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 "$@"; }
install() { apt install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
install 2>/dev/null || { apt update -qq && install; }
