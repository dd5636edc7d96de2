#!/usr/bin/env bash
# Runs a Python end-to-end test under Debian's /usr/bin/python3, which has python3-grpcio and
# python3-protobuf (a pyenv python3 first on PATH has neither).
set -euo pipefail
exec /usr/bin/python3 "$@"
