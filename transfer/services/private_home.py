"""A deployment home readable by its owner only.

The home holds the database (names, blinded ids, the log), the keys, the blinding
secret and each transfer's bag files. Everything in it is created with umask 077
(directories 0700, files 0600): :func:`private_umask` around ``notary init``, and
:func:`make_process_private` at the start of ``notary serve`` (the service creates
files for as long as it runs: database WAL, bags, spools). A home made wider by hand
or by an older version is named at ``serve`` (:func:`warnings_for`), not silently
changed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_UMASK = 0o077
#: Directories whose every entry is checked; elsewhere only the home's own entries
#: (the blockstore can hold millions of files: checked as a directory).
_DEEP = ("keys", "secrets", "chain")


@contextmanager
def private_umask() -> Iterator[None]:
    """Files and directories created inside the block are private; the process's
    umask is restored after."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_process_private() -> None:
    """From now on this process creates private files and directories."""
    os.umask(PRIVATE_UMASK)


def warnings_for(home: Path) -> list[str]:
    """One line per entry of the home wider than private, for ``serve`` to print."""
    return [
        f"警告：{path} 的权限为 {mode:04o}，本机其他用户可以访问；请运行 chmod -R go-rwx {home}"
        for path, mode in wider_than_private(home)
    ]


def wider_than_private(home: Path) -> list[tuple[Path, int]]:
    """The home, its entries and those of its key, secret and chain directories that
    others than the owner may read, write or enter: (path, mode)."""
    found: list[tuple[Path, int]] = []

    def check(path: Path) -> None:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077 and not path.is_symlink():
            found.append((path, mode))

    check(home)
    for entry in sorted(home.iterdir()):
        check(entry)
        if entry.name in _DEEP and entry.is_dir():
            for inner in sorted(entry.rglob("*")):
                check(inner)
    return found
