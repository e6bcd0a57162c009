#!/bin/sh
# Start the local dev chain (anvil + ArchiveNotary + demo members). See start_anvil.py.
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" chain-dev/start_anvil.py "$@"
