"""The HTTP API (FastAPI): ``create_app(settings)`` builds it.

The services import this package's errors and state; importing ``create_app`` lazily
keeps that from pulling in every route (and, through them, the services) first.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transfer.api.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from transfer.api.app import create_app

        return create_app
    raise AttributeError(name)


__all__ = ["create_app"]
