"""Typed errors of the cryptographic layer. Each names the check that failed."""

from notary.errors import NotaryError


class CryptoError(NotaryError):
    """Base class of every cryptographic failure."""


class DecryptionError(CryptoError):
    """Authenticated decryption failed: wrong key, nonce, tag, AAD or ciphertext."""


class SignatureError(CryptoError):
    """A signature is malformed or does not verify."""


class KeyFormatError(CryptoError):
    """A key is malformed, not on the curve, or its passphrase is wrong."""
