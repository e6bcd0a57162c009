"""Run the ``notary`` CLI as an install without the ``[server]`` extra has it.

``python tests/clients/sdk_only.py ARGS…``: every module of the extra's distributions
(and of what they alone pull in) cannot be imported; the CLI runs with ARGS; exit 3 if
any such module was loaded all the same. The lists come from pyproject.toml and the
installed distributions' metadata, so the check follows the extra as it changes.
"""

from __future__ import annotations

import importlib.abc
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def server_only_modules() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = _closure({_name(r) for r in project["dependencies"]})
    server = _closure({_name(r) for r in project["optional-dependencies"]["server"]}) - base
    modules = set()
    for module, dists in md.packages_distributions().items():
        if {d.lower().replace("_", "-") for d in dists} <= server:
            modules.add(module)
    return modules


class _Absent(importlib.abc.MetaPathFinder):
    def __init__(self, modules: set[str]) -> None:
        self.modules = modules

    def find_spec(self, name: str, path: object, target: ModuleType | None = None) -> None:
        if name.partition(".")[0] in self.modules:
            raise ModuleNotFoundError(f"No module named {name!r} (the [server] extra)", name=name)


def main() -> int:
    absent = server_only_modules()
    sys.meta_path.insert(0, _Absent(absent))
    from clients.cli import run

    code = run(sys.argv[1:])
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in absent)
    if loaded:
        print(f"server-only modules loaded: {loaded}", file=sys.stderr)
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
