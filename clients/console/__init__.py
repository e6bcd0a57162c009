"""The web console (控制台) for units and auditors: static pages with small vanilla
scripts calling the /v1 API. No build step and nothing fetched from elsewhere: every
file the console uses is listed in :data:`ASSETS` and served by :mod:`transfer.webapp`.
"""

from __future__ import annotations

from pathlib import Path

CONSOLE_DIR = Path(__file__).resolve().parent

# name → media type; nothing else in this directory is served.
ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "transfers.html": "text/html; charset=utf-8",
    "transfer.html": "text/html; charset=utf-8",
    "volumes.html": "text/html; charset=utf-8",
    "provenance.html": "text/html; charset=utf-8",
    "verify.html": "text/html; charset=utf-8",
    "check.html": "text/html; charset=utf-8",
    "ingest.html": "text/html; charset=utf-8",
    "send.html": "text/html; charset=utf-8",
    "admin.html": "text/html; charset=utf-8",
    "read.html": "text/html; charset=utf-8",
    "grants.html": "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "sm3.js": "text/javascript; charset=utf-8",
    "signin.js": "text/javascript; charset=utf-8",
    "transfers.js": "text/javascript; charset=utf-8",
    "transfer.js": "text/javascript; charset=utf-8",
    "volumes.js": "text/javascript; charset=utf-8",
    "provenance.js": "text/javascript; charset=utf-8",
    "verify.js": "text/javascript; charset=utf-8",
    "check.js": "text/javascript; charset=utf-8",
    "ingest.js": "text/javascript; charset=utf-8",
    "send.js": "text/javascript; charset=utf-8",
    "admin.js": "text/javascript; charset=utf-8",
    "read.js": "text/javascript; charset=utf-8",
    "grants.js": "text/javascript; charset=utf-8",
    # The manifest template of ``notary ingest`` (clients/manifest.py; a test keeps them equal).
    "manifest-template.csv": "text/csv; charset=utf-8",
}
