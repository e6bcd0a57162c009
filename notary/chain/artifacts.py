"""The compiled ArchiveNotary contract, as shipped inside this package.

``contracts/build.py`` writes ``notary/chain/ArchiveNotary.json`` (and the identical
``contracts/artifacts/ArchiveNotary.json``); it is read with importlib.resources so
that it is found in an editable checkout and in an installed wheel alike.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from notary.errors import NotaryError

CONTRACT_NAME = "ArchiveNotary"


class ArtifactError(NotaryError):
    """The packaged artifact is missing or inconsistent with itself."""


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes
    compiler_version: str
    evm_version: str
    bytecode_sha256: str

    def abi_list(self) -> list[dict[str, Any]]:
        return list(self.abi)


@cache
def load_artifact(name: str = CONTRACT_NAME) -> ContractArtifact:
    try:
        raw = resources.files("notary.chain").joinpath(f"{name}.json").read_bytes()
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"no artifact {name}.json in notary.chain (run contracts/build.py)"
        ) from exc
    doc = json.loads(raw)
    bytecode = bytes.fromhex(doc["bytecode"].removeprefix("0x"))
    deployed = bytes.fromhex(doc["deployedBytecode"].removeprefix("0x"))
    # A hand-edited or truncated artifact must not be deployed or trusted for code checks.
    for label, code, digest in (
        ("bytecode", bytecode, doc["bytecodeSha256"]),
        ("deployedBytecode", deployed, doc["deployedBytecodeSha256"]),
    ):
        if hashlib.sha256(code).hexdigest() != digest:
            raise ArtifactError(f"{name}.json: {label} does not match its recorded sha256")
    return ContractArtifact(
        name=doc["contractName"],
        abi=tuple(doc["abi"]),
        bytecode=bytecode,
        deployed_bytecode=deployed,
        compiler_version=doc["compiler"]["version"],
        evm_version=doc["settings"]["evmVersion"],
        bytecode_sha256=doc["bytecodeSha256"],
    )
