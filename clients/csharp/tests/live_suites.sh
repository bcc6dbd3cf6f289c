#!/usr/bin/env bash
# The suites that need a live server, run under one with_web_server.sh start (torch's import is
# most of a start):
#   live_suites.sh PYTHON_CLI BUILD_DIR http://127.0.0.1:WEBPORT
# Both run even when the first fails; the exit status is non-zero when either did.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cli=$1 build=$2 web=$3
mono "$build/AvatarForgeClientTests.exe" live "$web"; live=$?
"$here/cross_client_check.sh" "$cli" "$build/AvatarForgeDump.exe" "$build/cross" "$web"; cross=$?
[[ $live -eq 0 && $cross -eq 0 ]]
