#!/bin/sh
# Run on centre-1's host (10.0.1.11), from this directory.
set -eu
cd "$(dirname "$0")/centre-1"
exec besu --config-file=config.toml
