"""The transfer state machine (every state × event) and its deadlines at their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from transfer.workflow.errors import InvalidTransition
from transfer.workflow.state import (
    TERMINAL,
    DeadlinePolicy,
    Event,
    OverdueKind,
    State,
    TransferClock,
    allowed_events,
    due_dates,
    next_state,
    observed_state,
    overdue,
)
from transfer.workflow.times import Period, add_months

EXPECTED = {
    State.CREATED: {Event.PACKAGE: State.PACKAGED},
    State.PACKAGED: {Event.PACKAGE: State.PACKAGED, Event.DISPATCH: State.DISPATCHED},
    State.DISPATCHED: {Event.DELIVER: State.DELIVERED, Event.RECALL: State.RETURNED},
    State.DELIVERED: {
        Event.VERIFY: State.VERIFIED, Event.REJECT: State.REJECTED, Event.RECALL: State.RETURNED,
    },
    State.VERIFIED: {
        Event.DELIVER: State.DELIVERED, Event.VERIFY: State.VERIFIED, Event.ACCEPT: State.RECEIVED,
        Event.REJECT: State.REJECTED, Event.RECALL: State.RETURNED,
    },
    State.RECEIVED: {},
    State.REJECTED: {Event.RETURN: State.RETURNED},
    State.RETURNED: {},
}  # fmt: skip


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", list(Event))
def test_every_state_and_event(state: State, event: Event) -> None:
    expected = EXPECTED[state].get(event)
    if expected is None:
        with pytest.raises(InvalidTransition) as e:
            next_state(state, event)
        assert e.value.state == state and e.value.event == event
    else:
        assert next_state(state, event) is expected


def test_terminal_states_allow_nothing_and_everything_reaches_one() -> None:
    assert all(not allowed_events(s) for s in TERMINAL)
    for start in State:
        seen, frontier = {start}, [start]
        while frontier:
            s = frontier.pop()
            for e in allowed_events(s):
                t = next_state(s, e)
                if t not in seen:
                    seen.add(t)
                    frontier.append(t)
        assert seen & TERMINAL, start


def test_unknown_names_are_invalid_transitions() -> None:
    with pytest.raises(InvalidTransition):
        next_state("created", "teleport")  # type: ignore[arg-type]


CREATED = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
DISPATCHED = datetime(2025, 3, 31, 10, 0, tzinfo=UTC)
DELIVERED = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_sender_deadline_boundary() -> None:
    t = TransferClock(State.PACKAGED, CREATED)
    due = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
    assert due_dates(t) == {OverdueKind.SENDER_LATE: due}
    assert overdue(t, due) == ()
    (late,) = overdue(t, due + SECOND)
    assert late.kind is OverdueKind.SENDER_LATE and late.due == due


def test_no_receipt_and_receiver_deadlines_boundaries() -> None:
    t = TransferClock(State.DISPATCHED, CREATED, DISPATCHED)
    chase = datetime(2025, 4, 30, 10, 0, tzinfo=UTC)  # 31 March + 1 month: clamped to 30 April
    assert overdue(t, chase) == ()
    assert [o.kind for o in overdue(t, chase + SECOND)] == [OverdueKind.NO_RECEIPT]
    d = TransferClock(State.DELIVERED, CREATED, DISPATCHED, DELIVERED)
    audit = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    assert [o.kind for o in overdue(d, audit)] == [OverdueKind.NO_RECEIPT]
    assert [o.kind for o in overdue(d, audit + SECOND)] == [
        OverdueKind.NO_RECEIPT,
        OverdueKind.RECEIVER_LATE,
    ]


@pytest.mark.parametrize("state", [State.RECEIVED, State.REJECTED, State.RETURNED])
def test_closed_transfers_are_never_overdue(state: State) -> None:
    t = TransferClock(state, CREATED, DISPATCHED, DELIVERED)
    assert overdue(t, CREATED + timedelta(days=3650)) == ()


def test_periods_are_parameters() -> None:
    policy = DeadlinePolicy(chase_after=Period(days=10))
    t = TransferClock(State.DISPATCHED, CREATED, DISPATCHED)
    assert overdue(t, DISPATCHED + timedelta(days=10), policy) == ()
    assert overdue(t, DISPATCHED + timedelta(days=10) + SECOND, policy)
    with pytest.raises(ValueError):
        Period()


def test_missing_times_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="dispatch time"):
        overdue(TransferClock(State.DISPATCHED, CREATED), CREATED)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ((2025, 1, 31), 1, (2025, 2, 28)),
        ((2024, 1, 31), 1, (2024, 2, 29)),
        ((2025, 12, 15), 2, (2026, 2, 15)),
        ((2025, 8, 31), 2, (2025, 10, 31)),
        ((2025, 3, 31), 1, (2025, 4, 30)),
    ],
)
def test_calendar_months(
    start: tuple[int, int, int], months: int, expected: tuple[int, int, int]
) -> None:
    assert add_months(datetime(*start, tzinfo=UTC), months) == datetime(*expected, tzinfo=UTC)


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", list(Event))
def test_a_sender_observes_only_the_receivers_final_answer_and_only_while_dispatched(
    state: State, event: Event
) -> None:
    final = {
        Event.ACCEPT: State.RECEIVED,
        Event.REJECT: State.REJECTED,
        Event.RECALL: State.RETURNED,
    }
    if state is State.DISPATCHED and event in final:
        assert observed_state(state, event) is final[event]
    else:
        with pytest.raises(InvalidTransition):
            observed_state(state, event)
