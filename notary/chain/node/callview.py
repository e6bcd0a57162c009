"""Running a caller's EVM code (``eth_call``) against the embedded chain, bounded.

The read-only JSON-RPC endpoint runs code that anyone who reaches it chooses. Run
under :attr:`EmbeddedChain.lock` — the lock the API's own chain reads and the
anchoring worker's transactions take — one looping call stalled the whole
deployment. A :class:`CallView` therefore runs calls

* without that lock: on its own read-only sqlite connection to the chain's file, at
  the state root of the head it read when it was opened. The store only ever adds
  rows (trie nodes are content-addressed; a new head is one more batch), so a
  committed state it reads cannot change under it, and WAL lets it read while the
  chain writes;
* within a wall-time deadline, checked before every opcode (py-evm's interpreter
  cannot be interrupted from outside; a deadline per opcode also bounds code without
  loops, such as a megabyte of straight-line initcode);
* with the gas the caller asked for capped by the endpoint (:mod:`rpcserver`).

Writes are impossible twice over: the connection is opened ``mode=ro`` and the
database object refuses them; a call's own state changes stay in py-evm's journal,
which is dropped with the view.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from eth.abc import ComputationAPI, OpcodeAPI
from eth.db.backends.base import BaseAtomicDB
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState

from notary.chain.node.embedded import (
    DurablePyEVMBackend,
    EmbeddedChain,
    _chain_class,
    _NotaryTester,
)

__all__ = ["CallTimeout", "CallView", "deadline"]


class CallTimeout(Exception):
    """A call ran past its deadline (not a VMError: py-evm must not swallow it)."""


_deadline = threading.local()


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Calls run in this thread stop with :class:`CallTimeout` once ``time.monotonic()``
    passes ``at``."""
    previous = getattr(_deadline, "at", None)
    _deadline.at = at
    try:
        yield
    finally:
        _deadline.at = previous


def _bounded(opcode: OpcodeAPI) -> Callable[..., Any]:
    def run(computation: ComputationAPI) -> Any:
        at = getattr(_deadline, "at", None)
        if at is not None and time.monotonic() > at:
            raise CallTimeout("the call ran past its time limit")
        return opcode(computation=computation)

    return run


class _BoundedComputation(PragueComputation):
    opcodes = {code: _bounded(fn) for code, fn in PragueComputation.opcodes.items()}  # type: ignore[misc]  # noqa: RUF012


class _BoundedState(PragueState):
    computation_class = _BoundedComputation


class _BoundedVM(PragueVM):
    _state_class = _BoundedState


class _ReadOnlyDB(BaseAtomicDB):
    """py-evm's database interface over a read-only sqlite connection."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )

    def __getitem__(self, key: bytes) -> bytes:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def _exists(self, key: bytes) -> bool:
        return self._conn.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None

    def __setitem__(self, key: bytes, value: bytes) -> None:
        raise PermissionError("a call view is read-only")

    def __delitem__(self, key: bytes) -> None:
        raise PermissionError("a call view is read-only")

    def atomic_batch(self) -> Any:
        raise PermissionError("a call view is read-only")

    def close(self) -> None:
        self._conn.close()


class CallView:
    """The chain at its head when opened, for running callers' calls outside the
    chain's lock. ``tester`` answers ``call`` as :attr:`EmbeddedChain.tester` does;
    ``last_gas_used`` is the gas the last call used. One thread at a time."""

    def __init__(self, db_path: Path, chain_id: int) -> None:
        self._db = _ReadOnlyDB(db_path)
        try:
            base = _chain_class(chain_id)
            chain_class = type(
                "NotaryCallView",
                (base,),
                {"vm_configuration": ((base.vm_configuration[0][0], _BoundedVM),)},
            )
            self.backend = DurablePyEVMBackend(chain_class(self._db))
            self.tester = _NotaryTester(backend=self.backend, auto_mine_transactions=False)
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def of(cls, chain: EmbeddedChain) -> CallView:
        """``chain`` at its current head, for running a caller's calls without
        :attr:`EmbeddedChain.lock`."""
        return cls(chain.db_path, chain.chain_id)

    @property
    def last_gas_used(self) -> int:
        return self.backend.last_call_gas_used

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
