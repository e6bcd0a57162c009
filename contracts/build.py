"""Compile contracts/src/*.sol offline and write byte-deterministic artifacts.

    python contracts/build.py            # (re)write the artifacts
    python contracts/build.py --check    # recompile, compare byte for byte; exit 1 on difference
    python -m contracts.build [--check]  # the same, from the repository root

The compiler is the pinned npm ``solc`` (solcjs, WASM), driven by py-solc-x's
``compile_standard`` through ``contracts/solcjs-standard-json``: there is no native
solc in the registries we may use, and py-solc-x's own installer downloads from
the internet, so it is never called.

Each artifact is written twice with identical bytes: ``contracts/artifacts/`` is the
committed record next to the sources, ``notary/chain/`` is the copy that ships inside
the Python package (read there with importlib.resources, so it works installed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import solcx

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "contracts" / "src"
WRAPPER = ROOT / "contracts" / "solcjs-standard-json"
OUTPUT_DIRS = (ROOT / "contracts" / "artifacts", ROOT / "notary" / "chain")
CONTRACTS = ("ArchiveNotary",)
EXPECTED_COMPILER = "0.8.37+commit.f401782d"

# Explicit, not defaults: the EVM version decides which chains can run the code
# ("paris" has no PUSH0, which some permissioned clients still reject).
SETTINGS: dict[str, Any] = {
    "evmVersion": "paris",
    "optimizer": {"enabled": True, "runs": 200},
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]},
    },
}


class BuildError(Exception):
    """The compiler failed, warned, or produced no code for a contract."""


def compiler_version() -> str:
    version = solcx.wrapper.get_version_str_from_solc_binary(WRAPPER)
    if not version.startswith(EXPECTED_COMPILER):
        raise BuildError(f"compiler is {version}, expected {EXPECTED_COMPILER} (package-lock.json)")
    return version


def standard_input() -> dict[str, Any]:
    files = sorted(SOURCES.glob("*.sol"))
    if not files:
        raise BuildError(f"no Solidity sources in {SOURCES}")
    # Source units are keyed by file name only, so the absolute checkout path never
    # reaches the metadata hash embedded in the bytecode.
    sources = {p.name: {"content": p.read_text(encoding="utf-8")} for p in files}
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def compile_artifacts() -> dict[str, bytes]:
    """Return file name → artifact bytes for every contract in CONTRACTS."""
    version = compiler_version()
    std_in = standard_input()
    output = solcx.compile_standard(std_in, solc_binary=WRAPPER)
    # Warnings fail the build too: contract code should compile clean.
    problems = [e["formattedMessage"] for e in output.get("errors", [])]
    if problems:
        raise BuildError("compiler reported:\n" + "\n".join(problems))

    artifacts: dict[str, bytes] = {}
    for source_name, contracts in sorted(output["contracts"].items()):
        for name, compiled in sorted(contracts.items()):
            if name not in CONTRACTS:
                continue
            bytecode = "0x" + compiled["evm"]["bytecode"]["object"]
            deployed = "0x" + compiled["evm"]["deployedBytecode"]["object"]
            if len(bytecode) <= 2:
                raise BuildError(f"{name} compiled to empty bytecode (abstract?)")
            source = std_in["sources"][source_name]["content"].encode("utf-8")
            doc = {
                "contractName": name,
                "sourceName": source_name,
                "sourceSha256": hashlib.sha256(source).hexdigest(),
                "compiler": {"name": "solc", "version": version},
                "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
                "abi": compiled["abi"],
                "bytecode": bytecode,
                "bytecodeSha256": hashlib.sha256(bytes.fromhex(bytecode[2:])).hexdigest(),
                "deployedBytecode": deployed,
                "deployedBytecodeSha256": hashlib.sha256(bytes.fromhex(deployed[2:])).hexdigest(),
            }
            text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            artifacts[f"{name}.json"] = text.encode("utf-8")
    missing = set(CONTRACTS) - {n.removesuffix(".json") for n in artifacts}
    if missing:
        raise BuildError(f"compiler output lacks {sorted(missing)}")
    return artifacts


def write(artifacts: dict[str, bytes]) -> None:
    for out_dir in OUTPUT_DIRS:
        out_dir.mkdir(parents=True, exist_ok=True)
        for file_name, data in artifacts.items():
            (out_dir / file_name).write_bytes(data)
            print(f"wrote {(out_dir / file_name).relative_to(ROOT)}")


def check(artifacts: dict[str, bytes]) -> list[str]:
    """Return the committed artifact paths whose bytes differ from a fresh build."""
    stale = []
    for out_dir in OUTPUT_DIRS:
        for file_name, data in artifacts.items():
            path = out_dir / file_name
            if not path.is_file() or path.read_bytes() != data:
                stale.append(str(path.relative_to(ROOT)))
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with committed artifacts; exit 1 on change"
    )
    args = parser.parse_args(argv)
    try:
        artifacts = compile_artifacts()
    except (BuildError, solcx.exceptions.SolcError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 2
    if not args.check:
        write(artifacts)
        return 0
    stale = check(artifacts)
    for path in stale:
        print(f"stale or missing: {path} (run: python contracts/build.py)", file=sys.stderr)
    if not stale:
        print(f"artifacts up to date ({', '.join(sorted(artifacts))})")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
