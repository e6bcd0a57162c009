"""SM2 public-key cryptography (GB/T 32918-2016; GM/T 0003-2012), through GmSSL.

- Signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }`` over e = SM3(Z ‖ M), where
  Z is the signer's identity hash (GB/T 32918.2 §5.5) computed with the user ID
  ``1234567812345678`` (GM/T 0009-2012 default) always passed explicitly. Z is computed
  here once per key; GmSSL signs the digest (its message API recomputes Z per call).
- Ciphertexts are GM/T 0009 DER ``SEQUENCE { x, y, hash OCTET STRING, ciphertext }``
  (C1C3C2), as GmSSL and OpenSSL produce them.
- Keys serialise as PKCS#8 / SubjectPublicKeyInfo PEM (RFC 5915 ECPrivateKey, curve
  ``1.2.156.10197.1.301``); private keys are always encrypted with PBES2 (RFC 8018:
  PBKDF2-HMAC-SHA256, AES-256-CBC) so that the OpenSSL CLI reads them.

Every private-key operation sits behind :class:`Signer` / :class:`Decrypter`, so a
certified hardware module can take the place of :class:`SM2PrivateKey`.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import gmssl_pyx
from asn1crypto import algos, core, keys, pem
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from notary.crypto.errors import DecryptionError, KeyFormatError, SignatureError
from notary.crypto.sm3 import SM3, sm3

DEFAULT_USER_ID = b"1234567812345678"
CURVE_OID = "1.2.156.10197.1.301"
PBKDF2_ITERATIONS = 200_000

# GB/T 32918.5 recommended curve parameters, needed for Z.
_A = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
_B = bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
_GX = bytes.fromhex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7")
_GY = bytes.fromhex("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")
_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)

keys.NamedCurve.register("sm2p256v1", CURVE_OID, 32)


def identity_hash(public_key: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GB/T 32918.2 §5.5)."""
    if len(user_id) * 8 > 0xFFFF:
        raise ValueError("SM2 user ID is too long")
    entl = (len(user_id) * 8).to_bytes(2, "big")
    return sm3(entl + user_id + _A + _B + _GX + _GY + public_key)


def _strict_der_signature(signature: bytes) -> None:
    try:
        parsed = algos.DSASignature.load(signature, strict=True)
        r, s = parsed["r"].native, parsed["s"].native
    except (ValueError, TypeError) as e:
        raise SignatureError(f"SM2 signature is not valid DER: {e}") from None
    if parsed.dump(force=True) != signature:
        raise SignatureError("SM2 signature is not canonical DER")
    if not (0 < r < _N and 0 < s < _N):
        raise SignatureError("SM2 signature r or s is out of range")


class SM2PublicKey:
    """An SM2 public key (64-byte uncompressed point x ‖ y)."""

    __slots__ = ("_z", "raw")

    def __init__(self, raw: bytes) -> None:
        try:
            self.raw = gmssl_pyx.normalize_sm2_public_key(raw)
        except gmssl_pyx.InvalidValueError:
            raise KeyFormatError("not a valid SM2 public key (not a point on the curve)") from None
        self._z = identity_hash(self.raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"SM2PublicKey({self.fingerprint().hex()[:16]}…)"

    def fingerprint(self) -> bytes:
        """SM3 of the raw 64-byte public key: the key's identity on chain and in documents."""
        return sm3(self.raw)

    def message_digest(self, message: bytes) -> bytes:
        """e = SM3(Z ‖ M) for this key and the default user ID."""
        return SM3(self._z).update(message).digest()

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is this key's over ``message``."""
        _strict_der_signature(signature)
        try:
            ok = gmssl_pyx.sm2_verify_sm3_digest(self.raw, self.message_digest(message), signature)
        except gmssl_pyx.GmsslInnerError:
            ok = False
        if not ok:
            raise SignatureError("SM2 signature does not verify for this key and message")

    def encrypt(self, plaintext: bytes) -> bytes:
        """SM2-encrypt up to 255 bytes (a data key) to this key; GM/T 0009 DER C1C3C2."""
        if not 1 <= len(plaintext) <= 255:
            raise ValueError("SM2 encryption takes 1 to 255 bytes")
        return gmssl_pyx.sm2_encrypt(self.raw, plaintext)

    def to_der(self) -> bytes:
        return keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "ec", "parameters": ("named", "sm2p256v1")},
                "public_key": b"\x04" + self.raw,
            }
        ).dump()

    def to_pem(self) -> bytes:
        return pem.armor("PUBLIC KEY", self.to_der())

    @classmethod
    def from_pem(cls, data: bytes) -> SM2PublicKey:
        try:
            kind, _, der = pem.unarmor(data)
            if kind != "PUBLIC KEY":
                raise ValueError(f"expected a PUBLIC KEY block, got {kind}")
            info = keys.PublicKeyInfo.load(der)
            params = info["algorithm"]["parameters"]
            if info["algorithm"]["algorithm"].native != "ec" or params.chosen.dotted != CURVE_OID:
                raise ValueError("not an SM2 public key")
            point = info["public_key"].native
        except (ValueError, TypeError) as e:
            raise KeyFormatError(f"cannot read SM2 public key PEM: {e}") from None
        return cls(point)

    @classmethod
    def from_hex(cls, text: str) -> SM2PublicKey:
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise KeyFormatError("SM2 public key hex is malformed") from None


@runtime_checkable
class Signer(Protocol):
    """Anything that holds an SM2 private key and signs with the default user ID."""

    @property
    def public_key(self) -> SM2PublicKey: ...

    def sign(self, message: bytes) -> bytes: ...


@runtime_checkable
class Decrypter(Protocol):
    """Anything that holds an SM2 private key and opens ciphertexts sent to it."""

    @property
    def public_key(self) -> SM2PublicKey: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...


class SM2PrivateKey:
    """A software SM2 key pair; implements :class:`Signer` and :class:`Decrypter`."""

    __slots__ = ("_private", "_public")

    def __init__(self, private: bytes, public: bytes | None = None) -> None:
        if len(private) != 32 or not 0 < int.from_bytes(private, "big") < _N - 1:
            raise KeyFormatError("SM2 private key must be an integer in [1, n-2]")
        self._private = private
        if public is None:
            public = _derive_public(private)
        self._public = SM2PublicKey(public)

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(private, public)

    @property
    def public_key(self) -> SM2PublicKey:
        return self._public

    def private_bytes(self) -> bytes:
        return self._private

    def sign(self, message: bytes) -> bytes:
        return self.sign_digest(self._public.message_digest(message))

    def sign_digest(self, e: bytes) -> bytes:
        """Sign a precomputed e = SM3(Z ‖ M)."""
        return gmssl_pyx.sm2_sign_sm3_digest(self._private, e)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return gmssl_pyx.sm2_decrypt(self._private, ciphertext)
        except gmssl_pyx.GmsslInnerError:
            raise DecryptionError(
                "SM2 ciphertext does not decrypt with this key (wrong key or altered)"
            ) from None

    def to_pem(self, passphrase: bytes) -> bytes:
        """Encrypted PKCS#8 PEM (PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC)."""
        if not passphrase:
            raise ValueError("a passphrase is required: private keys are never stored in clear")
        ec = keys.ECPrivateKey(
            {
                "version": "ecPrivkeyVer1",
                "private_key": int.from_bytes(self._private, "big"),
                "public_key": b"\x04" + self._public.raw,
            }
        )
        info = keys.PrivateKeyInfo(
            {
                "version": 0,
                "private_key_algorithm": {
                    "algorithm": "ec",
                    "parameters": ("named", "sm2p256v1"),
                },
                "private_key": ec,
            }
        )
        salt, iv = os.urandom(16), os.urandom(16)
        key = _pbkdf2(passphrase, salt, PBKDF2_ITERATIONS)
        padder = padding.PKCS7(128).padder()
        data = padder.update(info.dump()) + padder.finalize()
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        ct = enc.update(data) + enc.finalize()
        epki = keys.EncryptedPrivateKeyInfo(
            {
                "encryption_algorithm": {
                    "algorithm": "pbes2",
                    "parameters": {
                        "key_derivation_func": {
                            "algorithm": "pbkdf2",
                            "parameters": {
                                "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                                "iteration_count": PBKDF2_ITERATIONS,
                                "prf": {"algorithm": "sha256"},
                            },
                        },
                        "encryption_scheme": {
                            "algorithm": "aes256_cbc",
                            "parameters": core.OctetString(iv),
                        },
                    },
                },
                "encrypted_data": ct,
            }
        )
        return pem.armor("ENCRYPTED PRIVATE KEY", epki.dump())

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes) -> SM2PrivateKey:
        try:
            kind, _, der = pem.unarmor(data)
        except (ValueError, TypeError) as e:
            raise KeyFormatError(f"cannot read SM2 private key PEM: {e}") from None
        if kind != "ENCRYPTED PRIVATE KEY":
            raise KeyFormatError(f"expected an ENCRYPTED PRIVATE KEY block, got {kind}")
        try:
            epki = keys.EncryptedPrivateKeyInfo.load(der)
            alg = epki["encryption_algorithm"]
            if alg["algorithm"].native != "pbes2":
                raise ValueError("only PBES2-encrypted keys are accepted")
            params = alg["parameters"]
            kdf = params["key_derivation_func"]["parameters"]
            scheme = params["encryption_scheme"]
            if scheme["algorithm"].native != "aes256_cbc" or kdf["prf"]["algorithm"].native != (
                "sha256"
            ):
                raise ValueError("unsupported PBES2 parameters (need PBKDF2-SHA256, AES-256-CBC)")
            key = _pbkdf2(passphrase, kdf["salt"].native, kdf["iteration_count"].native)
            dec = Cipher(algorithms.AES(key), modes.CBC(scheme["parameters"].native)).decryptor()
            padded = dec.update(epki["encrypted_data"].native) + dec.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            plain = unpadder.update(padded) + unpadder.finalize()
        except ValueError as e:
            msg = str(e) or "bad padding"
            if "padding" in msg.lower() or "invalid" in msg.lower():
                raise KeyFormatError("wrong passphrase for the SM2 private key") from None
            raise KeyFormatError(f"cannot read SM2 private key: {msg}") from None
        try:
            info = keys.PrivateKeyInfo.load(plain)
            curve = info["private_key_algorithm"]["parameters"].chosen.dotted
            if curve != CURVE_OID:
                raise ValueError("not an SM2 key")
            ec = info["private_key"].parsed
            d = ec["private_key"].native
        except (ValueError, TypeError, AttributeError) as e:
            raise KeyFormatError(f"wrong passphrase or not an SM2 private key ({e})") from None
        return cls(int(d).to_bytes(32, "big"))


def _pbkdf2(passphrase: bytes, salt: bytes, iterations: int) -> bytes:
    return PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase)


def _derive_public(private: bytes) -> bytes:
    # GmSSL exposes no scalar-multiplication helper; a plain affine double-and-add over
    # the SM2 curve runs once per key load, so clarity beats speed here.
    p = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF", 16)
    a = int.from_bytes(_A, "big")
    point: tuple[int, int] | None = None
    addend: tuple[int, int] | None = (int.from_bytes(_GX, "big"), int.from_bytes(_GY, "big"))
    k = int.from_bytes(private, "big")

    def add(p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
        if p1 is None:
            return p2
        if p2 is None:
            return p1
        if p1[0] == p2[0] and (p1[1] + p2[1]) % p == 0:
            return None
        if p1 == p2:
            lam = (3 * p1[0] * p1[0] + a) * pow(2 * p1[1], -1, p)
        else:
            lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, p)
        x3 = (lam * lam - p1[0] - p2[0]) % p
        return x3, (lam * (p1[0] - x3) - p1[1]) % p

    while k:
        if k & 1:
            point = add(point, addend)
        addend = add(addend, addend)
        k >>= 1
    assert point is not None
    return point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


__all__ = [
    "DEFAULT_USER_ID",
    "Decrypter",
    "SM2PrivateKey",
    "SM2PublicKey",
    "Signer",
    "identity_hash",
]
