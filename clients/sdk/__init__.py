"""Archive Notary Python SDK: sync :class:`NotaryClient`, async :class:`AsyncNotaryClient`.

Both verify on the client by default: every evidence receipt (pinned log key, RFC 9162
inclusion, checkpoint signature, optionally the chain anchor over JSON-RPC) and every
download (SM3 of the bytes = registered SM3 = the receipt's entry).
"""

from clients.sdk._core import Download, ReceiptResult, Uploaded
from clients.sdk._verify import VerifiedReceipt, fingerprint_of
from clients.sdk.aio import AsyncNotaryClient
from clients.sdk.client import NotaryClient
from clients.sdk.errors import (
    AuthenticationError,
    BadRequest,
    ClientVerificationError,
    Conflict,
    NotaryAPIError,
    NotaryClientError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    TransportError,
)

__all__ = [
    "AsyncNotaryClient",
    "AuthenticationError",
    "BadRequest",
    "ClientVerificationError",
    "Conflict",
    "Download",
    "NotFound",
    "NotaryAPIError",
    "NotaryClient",
    "NotaryClientError",
    "PermissionDenied",
    "ReceiptResult",
    "ServiceUnavailable",
    "TransportError",
    "Uploaded",
    "VerifiedReceipt",
    "fingerprint_of",
]
