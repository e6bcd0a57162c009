"""Local dev chain: anvil on 127.0.0.1 with a state file, ArchiveNotary deployed, demo members.

    python chain-dev/start_anvil.py              # run until Ctrl-C (state saved on exit)
    python chain-dev/start_anvil.py --once       # start, deploy/verify, stop (smoke test)

State lives in chain-dev/state/ (git-ignored): anvil's --state file and
deployment.json (URL, chain id, contract address, demo accounts). A restart reuses
both; if the contract is gone (state file deleted) it is deployed again.
The demo keys are anvil's well-known dev keys: never use them on a real network.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from notary.chain import ChainClient, ContractNotFound, Role, account_address, connect  # noqa: E402
from notary.chain.anvil import AnvilProcess, dev_private_keys  # noqa: E402
from notary.crypto import sm3  # noqa: E402

# (name, role) of the demo cast; key i+1 of anvil's dev mnemonic each (key 0 is the admin).
DEMO_MEMBERS = [
    ("centre-a", Role.ARCHIVE_CENTRE),
    ("centre-b", Role.ARCHIVE_CENTRE),
    ("unit-1", Role.UNIT),
    ("unit-2", Role.UNIT),
    ("auditor", Role.AUDITOR),
]


def demo_fingerprint(name: str) -> bytes:
    # Placeholder for SM3(raw SM2 public key): the demo members have no SM2 keys.
    return sm3(f"demo-sm2-public-key:{name}".encode())


def demo_unit_id(name: str) -> bytes:
    return sm3(f"demo-unit:{name}".encode())


def ensure_deployment(url: str, record: Path) -> dict[str, object]:
    w3 = connect(url)
    keys = dev_private_keys(len(DEMO_MEMBERS) + 1)
    if record.exists():
        saved = json.loads(record.read_text())
        try:
            ChainClient(w3, str(saved["contract"]), keys[0])
            return dict(saved)
        except ContractNotFound:
            print("contract from deployment.json is gone; deploying again", file=sys.stderr)
    admin = ChainClient.deploy(
        w3, keys[0], key_fingerprint=demo_fingerprint("admin"), unit_id=demo_unit_id("admin")
    )
    members: dict[str, dict[str, str]] = {
        "admin": {"role": "ADMIN", "account": admin.account, "private_key": "0x" + keys[0].hex()}
    }
    for (name, role), key in zip(DEMO_MEMBERS, keys[1:], strict=True):
        account = account_address(key)
        admin.add_member(account, role, demo_fingerprint(name), demo_unit_id(name))
        members[name] = {"role": role.name, "account": account, "private_key": "0x" + key.hex()}
    saved = {"url": url, "chain_id": admin.chain_id, "contract": admin.address, "members": members}
    record.write_text(json.dumps(saved, indent=2) + "\n")
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--chain-id", type=int, default=31337)
    parser.add_argument("--state-dir", type=Path, default=ROOT / "chain-dev" / "state")
    parser.add_argument("--once", action="store_true", help="stop after deploying")
    args = parser.parse_args()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    node = AnvilProcess(
        port=args.port,
        chain_id=args.chain_id,
        state_file=args.state_dir / "anvil-state.json",
        log_file=args.state_dir / "anvil.log",
    )
    node.start()
    try:
        # The port (not the state) is part of the URL, so refresh it on every start.
        saved = ensure_deployment(node.url, args.state_dir / "deployment.json")
        saved["url"] = node.url
        (args.state_dir / "deployment.json").write_text(json.dumps(saved, indent=2) + "\n")
        print(f"anvil {node.url} chain {saved['chain_id']} ArchiveNotary {saved['contract']}")
        print(f"deployment: {args.state_dir / 'deployment.json'}")
        if args.once:
            return 0
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while node.running:
            time.sleep(0.5)
        print("anvil exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        node.stop()  # SIGTERM: anvil writes its state file


if __name__ == "__main__":
    sys.exit(main())
