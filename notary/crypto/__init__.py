"""GM/T cryptography: SM3, SM4-GCM, SM2. The only package that touches crypto libraries."""

from notary.crypto.sm3 import SM3, sm3, sm3_file, sm3_stream

__all__ = ["SM3", "sm3", "sm3_file", "sm3_stream"]
