"""GM/T cryptography: SM3, SM4-GCM, SM2. The only package that touches crypto libraries."""

from notary.crypto.errors import CryptoError, DecryptionError, KeyFormatError, SignatureError
from notary.crypto.sm2 import Decrypter, Signer, SM2PrivateKey, SM2PublicKey
from notary.crypto.sm3 import SM3, hmac_sm3, is_hex_digest, sm3, sm3_file, sm3_stream

__all__ = [
    "SM3",
    "CryptoError",
    "Decrypter",
    "DecryptionError",
    "KeyFormatError",
    "SM2PrivateKey",
    "SM2PublicKey",
    "SignatureError",
    "Signer",
    "hmac_sm3",
    "is_hex_digest",
    "sm3",
    "sm3_file",
    "sm3_stream",
]
