"""Secrets on disk: written once, private to the owner, and the passphrase that
protects the PEM keys (from ``NOTARY_KEY_PASSPHRASE``, else ``keys/passphrase``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` (never over an existing file) mode 0600 in a 0700 directory."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def passphrase_path(home: Path) -> Path:
    return home / "keys" / "passphrase"


def passphrase(home: Path, *, create: bool) -> bytes | None:
    """The passphrase of the PEM keys under ``home``; None when there is none."""
    env = os.environ.get("NOTARY_KEY_PASSPHRASE")
    if env:
        return env.encode("utf-8")
    path = passphrase_path(home)
    if create and not path.exists():
        write_secret(path, secrets.token_urlsafe(32).encode("ascii"))
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        return None
