"""Benchmark of the GM primitives as the product uses them.

Run: ``python benches/bench_crypto.py [--mb 256]``; writes ``benches/results/crypto.md``.
Each figure is measured beside its baseline in the same run, and reported as a ratio:
- ``notary hash`` (the CLI, a separate process, streaming a file) vs raw ``hashlib``
  SM3 over the same bytes in memory (goal: ratio ≥ 0.9);
- the card's pure-Python ``gmssl`` SM3 on 1 MB vs ``hashlib`` (recorded, never used);
- SM4-GCM MB/s vs AES-128-GCM (same library) for scale;
- SM2 sign/verify/encrypt/decrypt per second (goal: ≥ 1,500 signs/s), and the
  message API of gmssl-pyx (which recomputes Z per call) vs our digest API.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gmssl_pyx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_seconds, header, write

from notary.crypto import SM2PrivateKey, sm4


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256, help="size of the file hashed by notary hash")
    args = ap.parse_args()
    rows: list[tuple[str, str, str, str]] = []

    size = args.mb << 20
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "big.bin"
        block = os.urandom(1 << 20)
        with open(f, "wb") as out:
            for _ in range(args.mb):
                out.write(block)
        data = f.read_bytes()
        raw = best_seconds(lambda: hashlib.new("sm3", data).digest())
        notary = Path(sys.executable).with_name("notary")

        def cli() -> None:
            subprocess.run([str(notary), "hash", str(f)], check=True, capture_output=True)

        t_cli = best_seconds(cli)
    rows.append(
        (
            f"`notary hash` {args.mb} MB file (process start included)",
            f"{size / t_cli / 1e6:.0f} MB/s",
            f"{t_cli and raw / t_cli:.2f} × raw hashlib ({size / raw / 1e6:.0f} MB/s)",
            "≥ 0.9",
        )
    )

    from gmssl import func
    from gmssl import sm3 as gm_sm3

    mb = os.urandom(1 << 20)
    t_gm = best_seconds(lambda: gm_sm3.sm3_hash(func.bytes_to_list(mb)), repeat=1)
    t_raw1 = best_seconds(lambda: hashlib.new("sm3", mb).digest())
    rows.append(
        (
            "card's pure-Python `gmssl` SM3, 1 MB",
            f"{1 / t_gm:.2f} MB/s",
            f"1/{t_gm / t_raw1:.0f} of hashlib",
            "not on any data path",
        )
    )

    key, aad = sm4.new_key(), b"m" * 40
    payload = os.urandom(64 << 20)
    t_sm4 = best_seconds(lambda: sm4.encrypt(key, aad, payload))
    sealed = sm4.encrypt(key, aad, payload)
    t_sm4d = best_seconds(lambda: sm4.decrypt(key, aad, sealed))
    aes = AESGCM(os.urandom(16))
    t_aes = best_seconds(lambda: aes.encrypt(b"\0" * 12, payload, aad))
    rows.append(
        (
            "SM4-GCM encrypt, 64 MB",
            f"{len(payload) / t_sm4 / 1e6:.0f} MB/s",
            f"{t_aes / t_sm4:.2f} × AES-128-GCM",
            "",
        )
    )
    rows.append(("SM4-GCM decrypt, 64 MB", f"{len(payload) / t_sm4d / 1e6:.0f} MB/s", "", ""))

    k = SM2PrivateKey.generate()
    msg = b"x" * 200
    n = 3000

    def signs() -> None:
        for _ in range(n):
            k.sign(msg)

    sig = k.sign(msg)

    def verifies() -> None:
        for _ in range(n):
            k.public_key.verify(msg, sig)

    def msg_api() -> None:
        for _ in range(n):
            gmssl_pyx.sm2_sign(k.private_bytes(), k.public_key.raw, msg)

    ct = k.public_key.encrypt(b"k" * 16)

    def encs() -> None:
        for _ in range(n):
            k.public_key.encrypt(b"k" * 16)

    def decs() -> None:
        for _ in range(n):
            k.decrypt(ct)

    t_sign, t_msg = best_seconds(signs), best_seconds(msg_api)
    rows.append(
        (
            "SM2 sign (digest API)",
            f"{n / t_sign:,.0f} /s",
            f"{t_msg / t_sign:.1f} × gmssl-pyx message API",
            "≥ 1,500 /s",
        )
    )
    rows.append(("SM2 verify", f"{n / best_seconds(verifies):,.0f} /s", "", ""))
    rows.append(("SM2 encrypt (16-byte data key)", f"{n / best_seconds(encs):,.0f} /s", "", ""))
    rows.append(("SM2 decrypt", f"{n / best_seconds(decs):,.0f} /s", "", ""))

    text = (
        header("GM cryptography")
        + "\n| measure | result | ratio to baseline (same run) | goal |\n|---|---|---|---|\n"
    )
    text += "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows)
    print(text)
    write("crypto", text)


if __name__ == "__main__":
    t0 = time.time()
    main()
