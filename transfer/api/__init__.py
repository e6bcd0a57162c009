"""The HTTP API (FastAPI): ``create_app(settings)`` builds it."""

from transfer.api.app import create_app

__all__ = ["create_app"]
