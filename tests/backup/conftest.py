"""The client tests' fixtures: a real ``notary serve`` and the in-process CLI."""

from tests.clients.conftest import cli

__all__ = ["cli"]
