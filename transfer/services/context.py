"""The deployment as the service sees it: keys, chain, store and the log's identity.

One :class:`NotaryContext` per app, built from an opened
:class:`notary.deployment.Deployment`. It caches the hosted units' envelope keys:
opening an encrypted PEM runs PBKDF2, far too slow to repeat on every read.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from notary.checkpoint import log_id_for
from notary.crypto import SM2PrivateKey, SM2PublicKey
from notary.deployment import Deployment, DeploymentError
from notary.receipts import AnchorRef
from notary.store import ContentStore
from notary.verifier import VerificationMemo
from transfer.services.receipts import AnchoredCache

log = logging.getLogger(__name__)


@dataclass
class NotaryContext:
    deployment: Deployment
    # The log this service appends to: the deployment's origin unless the settings
    # name another (a test suite gives each test its own log on one shared chain).
    origin: str
    owns_deployment: bool = True
    # Anchored receipts by leaf index, for verify-by-SM3 (immutable; see AnchoredCache).
    anchored: AnchoredCache = field(default_factory=AnchoredCache, repr=False)
    # Checkpoint signatures and anchors verified by this process (docs/service.md,
    # "The verification memo"): a verified read checks each once, not per read.
    verified: VerificationMemo = field(default_factory=VerificationMemo, repr=False)
    _unit_keys: dict[str, SM2PrivateKey] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def log_id(self) -> bytes:
        return log_id_for(self.origin)

    @property
    def log_public_key(self) -> SM2PublicKey:
        return self.deployment.log_key.public_key

    @property
    def store(self) -> ContentStore:
        return self.deployment.store

    @property
    def chain_id(self) -> int:
        return self.deployment.descriptor.chain_id

    @property
    def contract(self) -> str:
        return self.deployment.descriptor.contract

    def ensure_unit_key(self, code: str) -> SM2PublicKey:
        """The hosted unit's envelope key, created on first use.

        An existing key file is reused: a unit registration whose database commit
        failed after the key was written must be retryable.
        """
        with self._lock:
            # Looked for first: creating a key derives its PBKDF2 wrapping key (the
            # slow part) before the write finds the file taken.
            if not self.deployment.unit_key_path(code).exists():
                try:
                    return self.deployment.create_unit_key(code)
                except DeploymentError:
                    if not self.deployment.unit_key_path(code).exists():
                        raise
        return self.unit_key(code).public_key

    def unit_key(self, code: str) -> SM2PrivateKey:
        with self._lock:
            key = self._unit_keys.get(code)
            if key is None:
                key = self._unit_keys[code] = self.deployment.unit_key(code)
            return key

    def anchor_ref(self, tx_hash: str, block_number: int) -> AnchorRef:
        return AnchorRef(self.chain_id, self.contract, tx_hash, block_number)

    def close(self) -> None:
        if self.owns_deployment:
            self.deployment.close()
