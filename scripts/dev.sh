#!/usr/bin/env bash
# One entry point for a fresh machine: installs what the task needs, then runs it.
#   scripts/dev.sh demo   install the project, start the embedded deployment with a seeded demo
#   scripts/dev.sh test   install the project, its test tools and the node tools; run every check
set -euo pipefail
cd "$(dirname "$0")/.."

task="${1:-}"
shift || true

venv() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  .venv/bin/python -m pip install -q -e "$1"
}

node_tools() {
  # solcjs (contract compilation), anvil (a real EVM node), js-ipfs (a real IPFS node),
  # all pinned by package-lock.json.
  if [ ! -x node_modules/.bin/anvil ] || [ ! -x node_modules/.bin/jsipfs ] \
      || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    # Optional dependencies of js-ipfs (wrtc, electron-webrtc) fetch binaries from
    # outside the registry: they are never installed.
    npm ci --omit=optional --no-audit --no-fund --loglevel=error
  fi
}

browser() {
  # Headless Chromium and its driver for the console tests (tests/console), and a CJK
  # font so that their screenshots are legible; Debian packages, skipped when present.
  # No recommends: they would bring desktop daemons (avahi, cups) a test machine must not run.
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-wqy-microhei
  fi
}

forms_tools() {
  # The printable forms embed a CJK font (fonts-wqy-microhei: the service needs it to
  # render any form); their tests read the PDFs with poppler (pdftotext, pdftoppm) and
  # decode the QR codes with zbar (zbarimg). Debian packages, skipped when present.
  if [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || [ ! -x /usr/bin/pdftotext ] \
      || [ ! -x /usr/bin/zbarimg ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      fonts-wqy-microhei poppler-utils zbar-tools
  fi
}

postgres_up() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
}

case "$task" in
  demo)
    venv ".[server]"
    forms_tools
    exec .venv/bin/notary demo --home "${NOTARY_HOME:-./demo-home}" "$@"
    ;;
  test)
    venv ".[server,test]"
    node_tools
    browser
    forms_tools
    postgres_up
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy
    .venv/bin/python contracts/build.py --check
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: scripts/dev.sh demo|test [args...]" >&2
    exit 2
    ;;
esac
