"""SM2 signatures and encryption: the standard's KAT, interop with independent
implementations (OpenSSL CLI, pure-Python gmssl, gmalg) and tampering."""

from __future__ import annotations

import subprocess
from pathlib import Path

import gmalg
import pytest
from asn1crypto import algos

from notary.crypto.errors import DecryptionError, KeyFormatError, SignatureError
from notary.crypto.sm2 import Signer, SM2PrivateKey, SM2PublicKey, identity_hash

UID = b"1234567812345678"
# GM/T 0003.5-2012 / GB/T 32918.5-2017 Appendix: recommended-curve signature example.
KAT_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
KAT_PUB = bytes.fromhex(
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
KAT_K = int("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21", 16)
KAT_R = int("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16)
KAT_S = int("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16)
KAT_MSG = b"message digest"


def der(r: int, s: int) -> bytes:
    return algos.DSASignature({"r": r, "s": s}).dump()


def raw_rs(sig: bytes) -> tuple[int, int]:
    parsed = algos.DSASignature.load(sig)
    return parsed["r"].native, parsed["s"].native


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def test_public_key_derivation_matches_standard() -> None:
    assert SM2PrivateKey(KAT_D).public_key.raw == KAT_PUB


def test_fixed_k_signature_kat_through_gmalg_verifies_here() -> None:
    signer = gmalg.SM2(KAT_D, UID, rnd_fn=lambda _n: KAT_K)
    r, s = signer.sign(KAT_MSG)
    assert (int.from_bytes(r, "big"), int.from_bytes(s, "big")) == (KAT_R, KAT_S)
    SM2PublicKey(KAT_PUB).verify(KAT_MSG, der(KAT_R, KAT_S))


def test_our_signatures_verify_in_gmalg(key: SM2PrivateKey) -> None:
    sig = key.sign(b"transfer notice")
    r, s = raw_rs(sig)
    verifier = gmalg.SM2(pk=b"\x04" + key.public_key.raw, uid=UID)
    assert verifier.verify(b"transfer notice", r.to_bytes(32, "big"), s.to_bytes(32, "big"))


def test_signatures_cross_verify_with_pure_python_gmssl(key: SM2PrivateKey) -> None:
    from gmssl import func, sm2

    msg = "回执".encode()
    gm = sm2.CryptSM2(private_key=key.private_bytes().hex(), public_key=key.public_key.raw.hex())
    r, s = raw_rs(key.sign(msg))
    assert gm.verify_with_sm3(f"{r:064x}{s:064x}", msg)
    theirs = gm.sign_with_sm3(msg, func.random_hex(64))
    key.public_key.verify(msg, der(int(theirs[:64], 16), int(theirs[64:], 16)))


def _openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def test_signatures_cross_verify_with_openssl_cli(key: SM2PrivateKey, tmp_path: Path) -> None:
    keyf, pubf, msgf, sigf = (tmp_path / n for n in ("k.pem", "p.pem", "m", "s"))
    keyf.write_bytes(key.to_pem(b"pw"))
    pubf.write_bytes(key.public_key.to_pem())
    msgf.write_bytes(b"custody handoff")
    sigf.write_bytes(key.sign(b"custody handoff"))
    distid = "distid:1234567812345678"
    out = _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", str(pubf), "-rawin", "-digest", "sm3",
        "-pkeyopt", distid, "-in", str(msgf), "-sigfile", str(sigf),
    )  # fmt: skip
    assert b"Verified Successfully" in out
    sig = _openssl(
        "pkeyutl", "-sign", "-inkey", str(keyf), "-passin", "pass:pw", "-rawin",
        "-digest", "sm3", "-pkeyopt", distid, "-in", str(msgf),
    )  # fmt: skip
    key.public_key.verify(b"custody handoff", sig)


def test_ciphertexts_decrypt_across_openssl_and_gmssl(key: SM2PrivateKey, tmp_path: Path) -> None:
    keyf, pubf = tmp_path / "k.pem", tmp_path / "p.pem"
    keyf.write_bytes(key.to_pem(b"pw"))
    pubf.write_bytes(key.public_key.to_pem())
    data_key = bytes(range(16))
    ct = key.public_key.encrypt(data_key)
    assert _openssl("pkeyutl", "-decrypt", "-inkey", str(keyf), "-passin", "pass:pw", data=ct) == (
        data_key
    )
    theirs = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(pubf), data=data_key)
    assert key.decrypt(theirs) == data_key


def test_pem_round_trip_requires_the_passphrase(key: SM2PrivateKey) -> None:
    pem = key.to_pem(b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert SM2PrivateKey.from_pem(pem, b"correct horse").public_key == key.public_key
    with pytest.raises(KeyFormatError, match="passphrase"):
        SM2PrivateKey.from_pem(pem, b"wrong")
    with pytest.raises(ValueError):
        key.to_pem(b"")
    assert SM2PublicKey.from_pem(key.public_key.to_pem()) == key.public_key


def test_malformed_keys_are_refused() -> None:
    with pytest.raises(KeyFormatError):
        SM2PublicKey(b"\x01" * 64)
    with pytest.raises(KeyFormatError):
        SM2PrivateKey(b"\x00" * 32)
    with pytest.raises(KeyFormatError):
        SM2PublicKey.from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_every_bit_flip_in_a_signature_is_rejected(key: SM2PrivateKey) -> None:
    msg = b"checkpoint"
    sig = key.sign(msg)
    for i in range(len(sig)):
        for bit in range(8):
            bad = bytearray(sig)
            bad[i] ^= 1 << bit
            with pytest.raises(SignatureError):
                key.public_key.verify(msg, bytes(bad))


def test_wrong_message_key_or_user_id_is_rejected(key: SM2PrivateKey) -> None:
    sig = key.sign(b"m")
    with pytest.raises(SignatureError):
        key.public_key.verify(b"n", sig)
    with pytest.raises(SignatureError):
        SM2PrivateKey.generate().public_key.verify(b"m", sig)
    with pytest.raises(SignatureError, match="DER"):
        key.public_key.verify(b"m", sig + b"\x00")
    # A signature made with another user ID (a different Z) does not verify.
    other = gmalg.SM2(key.private_bytes(), b"another-id")
    r, s = other.sign(b"m")
    with pytest.raises(SignatureError):
        key.public_key.verify(b"m", der(int.from_bytes(r, "big"), int.from_bytes(s, "big")))


def test_tampered_ciphertext_is_rejected(key: SM2PrivateKey) -> None:
    ct = key.public_key.encrypt(b"k" * 16)
    for i in range(0, len(ct), 3):
        bad = bytearray(ct)
        bad[i] ^= 0x04
        with pytest.raises(DecryptionError):
            key.decrypt(bytes(bad))
    with pytest.raises(DecryptionError):
        SM2PrivateKey.generate().decrypt(ct)


def test_software_key_is_a_signer(key: SM2PrivateKey) -> None:
    assert isinstance(key, Signer)
    assert identity_hash(key.public_key.raw) == identity_hash(key.public_key.raw, UID)
