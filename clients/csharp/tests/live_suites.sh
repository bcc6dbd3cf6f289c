#!/usr/bin/env bash
# The C# client's checks against a live server (run under with_web_server.sh):
#   live_suites.sh BUILD_DIR http://127.0.0.1:WEBPORT
# The cross-client byte check (Python, C++, C#) is `make cross-client-check`.
set -euo pipefail
build=$1 web=$2
mono "$build/AvatarForgeClientTests.exe" live "$web"
