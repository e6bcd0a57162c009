"""The HTTP API (FastAPI): ``create_app(settings)`` builds it.

The layers import downwards only (clients → transfer.api → transfer.services →
notary); tests/test_layers.py imports every module first in a fresh interpreter.
"""

from transfer.api.app import create_app

__all__ = ["create_app"]
