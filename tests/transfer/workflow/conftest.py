from __future__ import annotations

import pytest

from notary.crypto import SM2PrivateKey
from tests._support.transfer_package import Parties


@pytest.fixture(scope="session")
def parties() -> Parties:
    return Parties(
        SM2PrivateKey.generate(),
        SM2PrivateKey.generate(),
        SM2PrivateKey.generate(),
        SM2PrivateKey.generate(),
    )
