#!/bin/sh
# Run on centre-4's host (10.0.4.11), from this directory.
set -eu
cd "$(dirname "$0")/centre-4"
exec besu --config-file=config.toml
