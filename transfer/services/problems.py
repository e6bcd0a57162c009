"""Problems of the notary services that name a failed verification check."""

from __future__ import annotations

from typing import Any

from transfer.api.errors import ProblemError


class VerificationProblem(ProblemError):
    """A verification failed; ``type`` ends in the check's name (``verification-sm3``…).

    Status 409 when the service's own evidence fails (a tampered store: the request
    was fine, the state is not), 422 when presented evidence fails (a receipt).
    """

    status, slug, title = 422, "verification", "Verification failed"

    def __init__(self, check: str, detail: str, *, status: int = 422, **extensions: Any) -> None:
        super().__init__(detail, check=check, **extensions)
        self.check = check
        self.slug = f"verification-{check}"
        self.status = status
