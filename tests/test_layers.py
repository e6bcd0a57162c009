"""The packages import downwards only, and no import cycle hides behind import order.

clients → transfer.api → transfer.services (with transfer.workflow and transfer.db) →
notary. The services know no web framework: they raise ``transfer.services.errors``
and take a ``ServiceState``; only ``transfer.api`` maps those to HTTP.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("notary", "transfer", "clients")

# (importing module prefix, prefixes it must never import)
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("notary", ("transfer", "clients", "fastapi", "starlette")),
    ("transfer.services", ("transfer.api", "clients", "fastapi", "starlette")),
    ("transfer.workflow", ("transfer.api", "transfer.services", "clients", "fastapi", "starlette")),
    ("transfer.db", ("transfer.api", "transfer.services", "clients", "fastapi", "starlette")),
    ("transfer", ("clients",)),
)
# The service serves the console's static files and their allowlist (no code) from the
# clients package; nothing else of the clients is imported by the service.
ALLOWED = {("transfer.webapp", "clients.console")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield _module_name(path), path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_every_import_goes_down_the_layers() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {imported} (a {prefix} module must not)"
        for module, path in _sources()
        for prefix, forbidden in RULES
        if _within(module, prefix)
        for line, imported in _imports(path)
        if any(_within(imported, f) for f in forbidden) and (module, imported) not in ALLOWED
    ]
    assert not wrong, "\n".join(wrong)


# Each project module imported first, in a child forked from an interpreter that has
# imported only third-party packages (so a child costs milliseconds, not seconds).
_FIRST_IMPORT = r"""
import importlib, os, sys
third_party, modules = sys.argv[1].split(","), sys.argv[2].split(",")
for name in third_party:
    try:
        importlib.import_module(name)
    except Exception:
        pass
running = 0
for module in modules:
    if running == (os.cpu_count() or 1):
        os.wait()
        running -= 1
    if os.fork() == 0:
        try:
            importlib.import_module(module)
        except BaseException as e:
            print(f"{module}: {type(e).__name__}: {e}", flush=True)
            os._exit(1)
        os._exit(0)
    running += 1
while running:
    os.wait()
    running -= 1
"""


def _first_importable(module: str) -> bool:
    # Scripts run by a tool, not imported: Alembic's env.py, ``python -m`` entry points.
    return not module.endswith((".__main__", "migrations.env"))


@pytest.mark.slow
def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    modules = [m for m, _ in _sources() if _first_importable(m)]
    # Whole dotted names: a child then imports only project modules, not (again) the
    # submodules of web3, SQLAlchemy or FastAPI they use.
    third_party = sorted(
        {
            imported
            for _, path in _sources()
            for _, imported in _imports(path)
            if imported.split(".")[0] not in PACKAGES
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_IMPORT, ",".join(third_party), ",".join(modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not done.stdout.strip(), f"modules that fail when imported first:\n{done.stdout}"


def _runtime_imports(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project modules ``module`` imports when it runs: at the top or inside a
    function (where an import hides a cycle from import order), not under
    ``if TYPE_CHECKING``; ``from package import name`` counts as the submodule ``name``
    when there is one."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            # A package's own __init__ is imported before its submodules by Python
            # itself; only cycles between modules are hidden by import order.
            if name and name != module and not _within(module, name):
                yield name


def _cycle_through(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    paths: list[list[str]] = [[start]]
    seen = {start}
    while paths:
        path = paths.pop()
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    return None


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    sources = dict(_sources())
    graph = {m: set(_runtime_imports(m, p, set(sources))) for m, p in sources.items()}
    cycles = {
        " → ".join(cycle)
        for module in graph
        if (cycle := _cycle_through(module, graph)) and min(cycle) == module
    }
    assert not cycles, "import cycles (an import inside a function hides them):\n" + "\n".join(
        sorted(cycles)
    )


def _names_a_conftest(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any("conftest" in alias.name.split(".") for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        # `from .conftest import X`, `from tests.d.conftest import X`, `from . import conftest`
        if node.module and "conftest" in node.module.split("."):
            return True
        return any(alias.name == "conftest" for alias in node.names)
    return False


def test_no_test_module_imports_a_conftest() -> None:
    """A conftest.py only defines and registers fixtures (pytest loads it); what tests
    share is in a ``_``-prefixed helper module or in tests/_support."""
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for top in ("tests", "benches")
        for path in sorted((ROOT / top).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _names_a_conftest(node)
    ]
    assert not found, "imports of a conftest (move what is shared to a helper module):\n" + (
        "\n".join(found)
    )
