"""Generate a permissioned Besu QBFT network of archive centres (keys, genesis, allowlists).

    python chain-dev/besu/generate.py --hosts 10.0.1.11 10.0.2.11 10.0.3.11 10.0.4.11
    python chain-dev/besu/generate.py --example     # the committed example/, no keys written

Writes, per centre i (1-based) under the output directory (default
chain-dev/besu/network/, git-ignored because it holds private keys):

  genesis.json               QBFT genesis; the centres' nodes are the initial validators
  static-nodes.json          every centre's enode, so nodes dial each other directly
  permissions_config.toml    node allowlist (enodes) + account allowlist (operators, admin)
  centre-i/key               the node's P2P/validator key      (private; stays on that host)
  centre-i/operator.key      the centre's anchoring account key (private; for ChainClient)
  centre-i/config.toml       Besu options for that node
  start-centre-i.sh          the start command

Keys come from the OS CSPRNG, except with --example where they are derived from a
public string (INSECURE, for showing the file shapes only; not written out).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

import rlp
from coincurve import PrivateKey
from eth_utils import keccak, to_checksum_address

HERE = Path(__file__).resolve().parent
CHAIN_ID = 20250
P2P_PORT = 30303
RPC_PORT = 8545


def _key(example: bool, label: str) -> bytes:
    if example:
        return keccak(text=f"archive-notary INSECURE example key: {label}")
    return secrets.token_bytes(32)


def _public(key: bytes) -> bytes:
    return PrivateKey(key).public_key.format(compressed=False)[1:]  # 64 bytes, no 0x04


def _address(key: bytes) -> str:
    return to_checksum_address(keccak(_public(key))[12:])


def qbft_extra_data(validators: list[str]) -> str:
    # RLP([32-byte vanity, [validators], no vote, round 0, no seals]) as Besu's
    # `besu rlp encode --type=QBFT_EXTRA_DATA` produces it.
    encoded = rlp.encode([bytes(32), [bytes.fromhex(v[2:]) for v in validators], [], b"", []])
    return "0x" + encoded.hex()


def genesis(validators: list[str], funded: list[str]) -> dict[str, object]:
    return {
        "config": {
            "chainId": CHAIN_ID,
            "berlinBlock": 0,
            "londonBlock": 0,
            # A private network does not price gas; the contract's permissions do the job.
            "zeroBaseFee": True,
            "qbft": {"blockperiodseconds": 2, "epochlength": 30000, "requesttimeoutseconds": 4},
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": "0x1fffffffffffff",
        "difficulty": "0x1",
        "mixHash": "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365",
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": {a: {"balance": "0x3635c9adc5dea00000"} for a in funded},  # 1000 ETH
        "extraData": qbft_extra_data(validators),
    }


def node_config(i: int, host: str) -> str:
    return f"""# Besu options for centre-{i} (QBFT validator, permissioned).
data-path="data"
genesis-file="../genesis.json"
node-private-key-file="key"
static-nodes-file="../static-nodes.json"
sync-mode="FULL"
min-gas-price=0

p2p-host="{host}"
p2p-port={P2P_PORT}
discovery-enabled=false

# JSON-RPC for the centre's own notary service only: bind loopback (or a private
# interface behind the centre's firewall), never a public address.
rpc-http-enabled=true
rpc-http-host="127.0.0.1"
rpc-http-port={RPC_PORT}
rpc-http-api=["ETH","NET","WEB3","QBFT","PERM","TXPOOL"]
host-allowlist=["localhost","127.0.0.1"]

permissions-nodes-config-file-enabled=true
permissions-nodes-config-file="../permissions_config.toml"
permissions-accounts-config-file-enabled=true
permissions-accounts-config-file="../permissions_config.toml"
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", nargs="+", default=[f"10.0.{i}.11" for i in range(1, 5)])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--example", action="store_true", help="INSECURE derived keys; no key files written"
    )
    args = parser.parse_args()
    out: Path = args.out or (HERE / ("example" if args.example else "network"))
    if len(args.hosts) < 4:
        print("QBFT needs 3f+1 validators to tolerate f faults: give >= 4 hosts", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)

    admin_key = _key(args.example, "admin")
    centres = []
    for i, host in enumerate(args.hosts, start=1):
        node_key = _key(args.example, f"centre-{i} node")
        operator_key = _key(args.example, f"centre-{i} operator")
        centres.append((i, host, node_key, operator_key))

    validators = [_address(node_key) for _, _, node_key, _ in centres]
    operators = [_address(op) for *_, op in centres]
    enodes = [f"enode://{_public(k).hex()}@{h}:{P2P_PORT}" for _, h, k, _ in centres]
    accounts = [_address(admin_key), *operators]

    (out / "genesis.json").write_text(json.dumps(genesis(validators, accounts), indent=2) + "\n")
    (out / "static-nodes.json").write_text(json.dumps(enodes, indent=2) + "\n")
    (out / "permissions_config.toml").write_text(
        "# Only these nodes may connect and only these accounts may send transactions.\n"
        f"nodes-allowlist={json.dumps(enodes, indent=2)}\n"
        f"accounts-allowlist={json.dumps(accounts, indent=2)}\n"
    )
    for i, host, node_key, operator_key in centres:
        d = out / f"centre-{i}"
        d.mkdir(exist_ok=True)
        (d / "config.toml").write_text(node_config(i, host))
        start = out / f"start-centre-{i}.sh"
        start.write_text(
            "#!/bin/sh\n# Run on centre-"
            f"{i}'s host ({host}), from this directory.\nset -eu\n"
            f'cd "$(dirname "$0")/centre-{i}"\nexec besu --config-file=config.toml\n'
        )
        start.chmod(0o755)
        if not args.example:
            for name, key in (("key", node_key), ("operator.key", operator_key)):
                path = d / name
                path.write_text("0x" + key.hex() + "\n")
                os.chmod(path, 0o600)
    if not args.example:
        (out / "admin.key").write_text("0x" + admin_key.hex() + "\n")
        os.chmod(out / "admin.key", 0o600)
    (out / "accounts.json").write_text(
        json.dumps(
            {
                "chain_id": CHAIN_ID,
                "admin": accounts[0],
                "centres": [
                    {
                        "centre": f"centre-{c[0]}",
                        "host": c[1],
                        "validator": v,
                        "operator": o,
                        "enode": e,
                    }
                    for c, v, o, e in zip(centres, validators, operators, enodes, strict=True)
                ],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
