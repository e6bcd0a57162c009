"""One finisher per transfer step in a process: the outbox leaves alone a step that a
request is finishing, and takes it once the request is done."""

from __future__ import annotations

import threading
from typing import Any

from transfer.services.transfer_intents import one_finisher, unless_busy


def test_the_outbox_skips_a_step_a_request_is_finishing() -> None:
    inside, release = threading.Event(), threading.Event()

    @one_finisher
    def finish(state: Any, ctx: Any, transfer_id: str) -> None:
        inside.set()
        release.wait(10)

    request = threading.Thread(target=finish, args=(None, None, "tr-1"))
    request.start()
    assert inside.wait(10)
    try:
        with unless_busy("tr-1") as mine:
            assert not mine
    finally:
        release.set()
        request.join(10)
    with unless_busy("tr-1") as mine:
        assert mine
        finish(None, None, "tr-1")  # the outbox's own finisher call re-enters its lock
