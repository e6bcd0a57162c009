#!/bin/sh
# Run on centre-3's host (10.0.3.11), from this directory.
set -eu
cd "$(dirname "$0")/centre-3"
exec besu --config-file=config.toml
