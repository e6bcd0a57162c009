#!/bin/sh
# Run on centre-2's host (10.0.2.11), from this directory.
set -eu
cd "$(dirname "$0")/centre-2"
exec besu --config-file=config.toml
