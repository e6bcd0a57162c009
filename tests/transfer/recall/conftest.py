"""The transfer service's two centres, on an anvil and a js-ipfs node of this package's
own: the recall tests move the chain's clock past a deadline, for good, which the
other transfer tests must not see."""

from tests._support.centres import anvil, centres, ipfs

__all__ = ["anvil", "centres", "ipfs"]
