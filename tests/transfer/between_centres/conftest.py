"""The transfer service tests' two centres (tests/_support/centres.py), on an anvil and
a js-ipfs node of this package's own."""

from tests._support.centres import anvil, centres, ipfs

__all__ = ["anvil", "centres", "ipfs"]
