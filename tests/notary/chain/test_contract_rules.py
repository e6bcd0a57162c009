"""ArchiveNotary's permission rules, each refusal asserted as its typed exception.

Runs on both backends (see conftest): eth-tester in memory and a real anvil node.
"""

from __future__ import annotations

import pytest
from hexbytes import HexBytes

from notary.chain import CustodyState, MemberStatus, Outcome, Role, account_address
from notary.chain import errors as E
from notary.crypto import sm3
from tests.notary.chain._world import Cast, fingerprint, unit_id

LOG = sm3(b"log:centre")
VOLUME = sm3(b"volume:0001")
PACKAGE = sm3(b"bag tagmanifest")
RECEIPT = sm3(b"signed receipt")
REASON = sm3(b"rejection reasons")


def root(n: int) -> bytes:
    return sm3(n.to_bytes(8, "big"))


# ------------------------------------------------------------------ membership


class TestMembership:
    def test_deployer_is_the_first_admin(self, cast: Cast) -> None:
        member = cast.admin.member(cast.admin.account)
        assert member is not None
        assert member.role is Role.ADMIN and member.active
        assert member.key_fingerprint == fingerprint("admin")
        assert member.unit_id == unit_id("admin")

    def test_admin_adds_members_bound_to_key_fingerprint_and_unit(self, cast: Cast) -> None:
        member = cast.admin.member(cast.centre.account)
        assert member is not None
        assert (member.role, member.status) == (Role.ARCHIVE_CENTRE, MemberStatus.ACTIVE)
        assert member.key_fingerprint == fingerprint("centre")
        assert member.unit_id == unit_id("centre")
        assert member.member_since > 0 and member.suspended_at == 0
        assert cast.admin.member_by_fingerprint(fingerprint("centre")) == cast.centre.account

    def test_unknown_account_is_no_member(self, cast: Cast) -> None:
        assert cast.admin.member(cast.outsider.account) is None
        assert cast.admin.member_by_fingerprint(fingerprint("nobody")) is None

    @pytest.mark.parametrize("actor", ["centre", "unit", "auditor", "outsider"])
    def test_only_an_admin_adds_members(self, cast: Cast, actor: str) -> None:
        client = getattr(cast, actor)
        expected = E.NotMember if actor == "outsider" else E.WrongRole
        with pytest.raises(expected) as info:
            client.add_member(cast.outsider.account, Role.UNIT, fingerprint("x"), unit_id("x"))
        assert info.value.values["account"] == client.account

    def test_wrong_role_names_the_role_the_caller_has(self, cast: Cast) -> None:
        with pytest.raises(E.WrongRole) as info:
            cast.unit.suspend_member(cast.centre.account)
        assert info.value.values == {"account": cast.unit.account, "role": Role.UNIT}
        assert "WrongRole(account=" in str(info.value) and "role=UNIT" in str(info.value)

    def test_an_account_is_added_once(self, cast: Cast) -> None:
        with pytest.raises(E.AlreadyMember):
            cast.admin.add_member(cast.unit.account, Role.UNIT, fingerprint("u9"), unit_id("u9"))

    def test_a_key_fingerprint_binds_one_account(self, cast: Cast) -> None:
        with pytest.raises(E.FingerprintInUse) as info:
            cast.admin.add_member(
                cast.outsider.account, Role.UNIT, fingerprint("unit"), unit_id("o")
            )
        assert info.value.values["account"] == cast.unit.account

    def test_role_none_zero_fingerprint_and_zero_address_are_refused(self, cast: Cast) -> None:
        who = cast.outsider.account
        with pytest.raises(E.InvalidRole):
            cast.admin.add_member(who, Role.NONE, fingerprint("o"), unit_id("o"))
        with pytest.raises(E.ZeroHash):
            cast.admin.add_member(who, Role.UNIT, bytes(32), unit_id("o"))
        with pytest.raises(E.ZeroHash):
            cast.admin.add_member(who, Role.UNIT, fingerprint("o"), bytes(32))
        with pytest.raises(E.ZeroAddress):
            cast.admin.add_member("0x" + "00" * 20, Role.UNIT, fingerprint("o"), unit_id("o"))

    def test_suspend_records_block_and_history(self, cast: Cast) -> None:
        ref = cast.admin.suspend_member(cast.centre.account)
        member = cast.admin.member(cast.centre.account)
        assert member is not None
        assert member.status is MemberStatus.SUSPENDED and not member.active
        assert member.suspended_at == ref.block_number
        history = cast.admin.member_history(cast.centre.account)
        assert [c.active for c in history] == [True, False]
        assert history[-1].block_number == ref.block_number

    def test_suspending_a_suspended_member_is_refused(self, cast: Cast) -> None:
        cast.admin.suspend_member(cast.unit.account)
        with pytest.raises(E.NotActive):
            cast.admin.suspend_member(cast.unit.account)

    def test_suspending_a_non_member_is_refused(self, cast: Cast) -> None:
        with pytest.raises(E.NotMember):
            cast.admin.suspend_member(cast.outsider.account)

    def test_an_admin_cannot_suspend_itself(self, cast: Cast) -> None:
        with pytest.raises(E.CannotSuspendSelf):
            cast.admin.suspend_member(cast.admin.account)

    def test_reinstating_an_active_member_or_a_stranger_is_refused(self, cast: Cast) -> None:
        with pytest.raises(E.AlreadyActive):
            cast.admin.reinstate_member(cast.unit.account)
        with pytest.raises(E.NotMember):
            cast.admin.reinstate_member(cast.outsider.account)

    def test_a_suspended_admin_can_do_nothing(self, cast: Cast) -> None:
        second = account_address(cast.keys["outsider"])
        cast.admin.add_member(second, Role.ADMIN, fingerprint("admin2"), unit_id("admin"))
        admin2 = cast.client(cast.keys["outsider"])
        admin2.suspend_member(cast.admin.account)
        with pytest.raises(E.NotActive):
            cast.admin.add_member(cast.outsider.account, Role.UNIT, fingerprint("z"), unit_id("z"))

    def test_was_active_at_answers_for_past_blocks(self, cast: Cast) -> None:
        centre = cast.centre.account
        added = cast.admin.member(centre).member_since  # type: ignore[union-attr]
        suspended = cast.admin.suspend_member(centre).block_number
        reinstated = cast.admin.reinstate_member(centre).block_number
        ask = cast.admin.was_active_at
        assert not ask(centre, Role.ARCHIVE_CENTRE, added - 1)
        assert ask(centre, Role.ARCHIVE_CENTRE, added)
        assert ask(centre, Role.ARCHIVE_CENTRE, suspended - 1)
        assert not ask(centre, Role.ARCHIVE_CENTRE, suspended)
        assert ask(centre, Role.ARCHIVE_CENTRE, reinstated)
        assert not ask(centre, Role.UNIT, reinstated)  # active, but not in that role


# ------------------------------------------------------------------ anchoring


class TestAnchoring:
    def test_an_active_archive_centre_anchors(self, cast: Cast) -> None:
        ref = cast.centre.anchor_checkpoint(LOG, 10, root(10))
        assert (ref.chain_id, ref.contract) == (cast.chain.w3.eth.chain_id, cast.admin.address)
        assert ref.anchorer == cast.centre.account
        anchor = cast.outsider.get_anchor(LOG, 10)  # anyone reads
        assert anchor is not None
        assert (anchor.root, anchor.anchorer) == (root(10), cast.centre.account)
        assert (anchor.block_number, anchor.timestamp) == (ref.block_number, ref.block_timestamp)
        block = cast.chain.w3.eth.get_block(ref.block_number)
        assert block["timestamp"] == ref.block_timestamp
        tx = cast.chain.w3.eth.get_transaction(HexBytes(ref.tx_hash))
        assert tx["blockNumber"] == ref.block_number

    def test_anchorer_was_an_active_centre_in_the_anchor_block(self, cast: Cast) -> None:
        ref = cast.centre.anchor_checkpoint(LOG, 1, root(1))
        assert cast.outsider.was_active_at(ref.anchorer, Role.ARCHIVE_CENTRE, ref.block_number)

    def test_latest_follows_the_largest_size(self, cast: Cast) -> None:
        assert cast.centre.latest_anchor(LOG) is None
        for size in (1, 2, 7):
            cast.centre.anchor_checkpoint(LOG, size, root(size))
        latest = cast.centre.latest_anchor(LOG)
        assert latest is not None and (latest.tree_size, latest.root) == (7, root(7))
        assert cast.centre.get_anchor(LOG, 3) is None  # sizes in between are not anchored

    def test_non_member_cannot_anchor(self, cast: Cast) -> None:
        with pytest.raises(E.NotMember):
            cast.outsider.anchor_checkpoint(LOG, 1, root(1))

    @pytest.mark.parametrize("actor", ["admin", "unit", "auditor"])
    def test_only_archive_centres_anchor(self, cast: Cast, actor: str) -> None:
        with pytest.raises(E.WrongRole):
            getattr(cast, actor).anchor_checkpoint(LOG, 1, root(1))

    def test_suspended_centre_cannot_anchor_and_reinstated_centre_can(self, cast: Cast) -> None:
        cast.centre.anchor_checkpoint(LOG, 1, root(1))
        cast.admin.suspend_member(cast.centre.account)
        with pytest.raises(E.NotActive):
            cast.centre.anchor_checkpoint(LOG, 2, root(2))
        cast.admin.reinstate_member(cast.centre.account)
        ref = cast.centre.anchor_checkpoint(LOG, 2, root(2))
        assert cast.centre.latest_anchor(LOG).tree_size == 2  # type: ignore[union-attr]
        assert ref.tree_size == 2

    @pytest.mark.parametrize("size", [5, 4, 1])
    def test_tree_size_must_strictly_increase(self, cast: Cast, size: int) -> None:
        cast.centre.anchor_checkpoint(LOG, 5, root(5))
        # A root that is not on chain, so the client cannot treat it as a retry.
        with pytest.raises((E.TreeSizeNotIncreasing, E.AnchorConflict)) as info:
            cast.centre.anchor_checkpoint(LOG, size, root(100 + size))
        if size == 5:
            assert isinstance(info.value, E.AnchorConflict)
        else:
            assert isinstance(info.value, E.TreeSizeNotIncreasing)
            assert info.value.values == {"logId": LOG, "latest": 5, "given": size}

    def test_size_zero_is_never_accepted(self, cast: Cast) -> None:
        with pytest.raises(E.TreeSizeNotIncreasing):
            cast.centre.anchor_checkpoint(LOG, 0, root(0))

    def test_zero_root_or_log_id_is_refused(self, cast: Cast) -> None:
        with pytest.raises(E.ZeroHash):
            cast.centre.anchor_checkpoint(LOG, 1, bytes(32))
        with pytest.raises(E.ZeroHash):
            cast.centre.anchor_checkpoint(bytes(32), 1, root(1))

    def test_a_log_belongs_to_the_unit_that_first_anchored_it(self, cast: Cast) -> None:
        cast.centre.anchor_checkpoint(LOG, 1, root(1))
        assert cast.centre.log_owner_unit(LOG) == unit_id("centre")
        with pytest.raises(E.NotLogOwner) as info:
            cast.centre2.anchor_checkpoint(LOG, 1000, root(1000))
        assert info.value.values["ownerUnit"] == unit_id("centre")
        cast.centre2.anchor_checkpoint(sm3(b"log:centre2"), 1, root(1))  # its own log is fine

    def test_logs_are_independent(self, cast: Cast) -> None:
        other = sm3(b"log:other")
        cast.centre.anchor_checkpoint(LOG, 9, root(9))
        cast.centre.anchor_checkpoint(other, 1, root(1))
        assert cast.centre.latest_anchor(other).tree_size == 1  # type: ignore[union-attr]


# ------------------------------------------------------------------ custody


def dispatch(cast: Cast, to: str | None = None, *, deadline_in: int = 3600) -> None:
    cast.unit.dispatch(VOLUME, to or cast.unit2.account, PACKAGE, cast.chain.now() + deadline_in)


class TestCustody:
    @pytest.fixture(autouse=True)
    def registered(self, cast: Cast) -> None:
        cast.centre.register_volume(VOLUME, cast.unit.account)

    def test_a_registered_volume_is_held_by_its_custodian(self, cast: Cast) -> None:
        state = cast.outsider.custody_state(VOLUME)
        assert state is not None
        assert (state.state, state.custodian, state.transfers) == (
            CustodyState.HELD,
            cast.unit.account,
            0,
        )
        assert state.in_transit is None
        assert cast.outsider.custody_state(sm3(b"never registered")) is None

    def test_a_volume_is_registered_once(self, cast: Cast) -> None:
        with pytest.raises(E.AlreadyRegistered):
            cast.centre.register_volume(VOLUME, cast.unit2.account)

    def test_a_unit_registers_only_for_itself(self, cast: Cast) -> None:
        cast.unit2.register_volume(sm3(b"v2"), cast.unit2.account)
        with pytest.raises(E.UnitRegistersOnlyForItself):
            cast.unit2.register_volume(sm3(b"v3"), cast.unit.account)

    @pytest.mark.parametrize(
        ("actor", "error"),
        [("auditor", E.WrongRole), ("admin", E.WrongRole), ("outsider", E.NotMember)],
    )
    def test_only_centres_and_units_register(
        self, cast: Cast, actor: str, error: type[E.ContractError]
    ) -> None:
        with pytest.raises(error):
            getattr(cast, actor).register_volume(sm3(b"v4"), cast.unit.account)

    def test_the_custodian_must_be_an_active_centre_or_unit(self, cast: Cast) -> None:
        with pytest.raises(E.WrongRole):
            cast.centre.register_volume(sm3(b"v5"), cast.auditor.account)
        with pytest.raises(E.NotMember):
            cast.centre.register_volume(sm3(b"v5"), cast.outsider.account)
        cast.admin.suspend_member(cast.unit2.account)
        with pytest.raises(E.NotActive):
            cast.centre.register_volume(sm3(b"v5"), cast.unit2.account)

    def test_dispatch_then_receive_moves_custody(self, cast: Cast) -> None:
        deadline = cast.chain.now() + 3600
        sent = cast.unit.dispatch(VOLUME, cast.unit2.account, PACKAGE, deadline)
        state = cast.outsider.custody_state(VOLUME)
        assert state is not None and state.state is CustodyState.IN_TRANSIT
        assert state.custodian == cast.unit.account  # still the sender while in transit
        transfer = state.in_transit
        assert transfer is not None
        assert (transfer.number, transfer.sender, transfer.addressee) == (
            1,
            cast.unit.account,
            cast.unit2.account,
        )
        assert (transfer.package_root, transfer.deadline) == (PACKAGE, deadline)
        assert transfer.outcome is Outcome.PENDING
        assert transfer.dispatched_block == sent.block_number

        got = cast.unit2.receive(VOLUME, RECEIPT)
        state = cast.outsider.custody_state(VOLUME)
        assert state is not None
        assert (state.state, state.custodian) == (CustodyState.HELD, cast.unit2.account)
        done = cast.outsider.get_transfer(VOLUME, 1)
        assert done is not None
        assert (done.outcome, done.outcome_hash) == (Outcome.RECEIVED, RECEIPT)
        assert done.closed_block == got.block_number

    def test_reject_leaves_the_volume_with_the_sender(self, cast: Cast) -> None:
        dispatch(cast)
        cast.unit2.reject(VOLUME, REASON)
        state = cast.outsider.custody_state(VOLUME)
        assert state is not None
        assert (state.state, state.custodian) == (CustodyState.HELD, cast.unit.account)
        done = cast.outsider.get_transfer(VOLUME, 1)
        assert done is not None and (done.outcome, done.outcome_hash) == (Outcome.REJECTED, REASON)
        dispatch(cast, cast.centre.account)  # and the sender may dispatch again
        assert cast.outsider.custody_state(VOLUME).transfers == 2  # type: ignore[union-attr]

    def test_only_the_custodian_dispatches(self, cast: Cast) -> None:
        with pytest.raises(E.NotCustodian) as info:
            cast.unit2.dispatch(VOLUME, cast.centre.account, PACKAGE, cast.chain.now() + 60)
        assert info.value.values == {"volumeId": VOLUME, "custodian": cast.unit.account}

    def test_a_suspended_custodian_cannot_dispatch(self, cast: Cast) -> None:
        cast.admin.suspend_member(cast.unit.account)
        with pytest.raises(E.NotActive):
            dispatch(cast)

    def test_dispatch_to_self_or_to_a_non_holder_is_refused(self, cast: Cast) -> None:
        with pytest.raises(E.SelfDispatch):
            dispatch(cast, cast.unit.account)
        with pytest.raises(E.WrongRole):
            dispatch(cast, cast.auditor.account)
        with pytest.raises(E.NotMember):
            dispatch(cast, cast.outsider.account)

    def test_the_deadline_must_be_in_the_future(self, cast: Cast) -> None:
        with pytest.raises(E.DeadlineInPast):
            dispatch(cast, deadline_in=-1)

    def test_dispatch_needs_a_package_root(self, cast: Cast) -> None:
        with pytest.raises(E.ZeroHash):
            cast.unit.dispatch(VOLUME, cast.unit2.account, bytes(32), cast.chain.now() + 60)

    def test_nothing_moves_while_in_transit(self, cast: Cast) -> None:
        dispatch(cast)
        with pytest.raises(E.InTransit):
            dispatch(cast, cast.centre.account)

    def test_only_the_addressee_receives_or_rejects(self, cast: Cast) -> None:
        dispatch(cast)
        for other in (cast.unit, cast.centre, cast.outsider):
            with pytest.raises(E.NotAddressee) as info:
                other.receive(VOLUME, RECEIPT)
            assert info.value.values["addressee"] == cast.unit2.account
            with pytest.raises(E.NotAddressee):
                other.reject(VOLUME, REASON)

    def test_a_suspended_addressee_cannot_receive(self, cast: Cast) -> None:
        dispatch(cast)
        cast.admin.suspend_member(cast.unit2.account)
        with pytest.raises(E.NotActive):
            cast.unit2.receive(VOLUME, RECEIPT)

    def test_a_receipt_hash_is_required(self, cast: Cast) -> None:
        dispatch(cast)
        with pytest.raises(E.ZeroHash):
            cast.unit2.receive(VOLUME, bytes(32))

    def test_double_receive_is_refused(self, cast: Cast) -> None:
        dispatch(cast)
        cast.unit2.receive(VOLUME, RECEIPT)
        with pytest.raises(E.NotInTransit):
            cast.unit2.receive(VOLUME, RECEIPT)
        with pytest.raises(E.NotInTransit):
            cast.unit2.reject(VOLUME, REASON)

    def test_unknown_volumes_are_refused(self, cast: Cast) -> None:
        ghost = sm3(b"ghost")
        with pytest.raises(E.UnknownVolume):
            cast.unit.dispatch(ghost, cast.unit2.account, PACKAGE, cast.chain.now() + 60)
        with pytest.raises(E.UnknownVolume):
            cast.unit2.receive(ghost, RECEIPT)
        with pytest.raises(E.UnknownVolume):
            cast.unit.recall(ghost)

    def test_recall_only_after_the_deadline_and_only_by_the_sender(self, cast: Cast) -> None:
        with pytest.raises(E.NotInTransit):
            cast.unit.recall(VOLUME)
        dispatch(cast, deadline_in=600)
        with pytest.raises(E.DeadlineNotPassed):
            cast.unit.recall(VOLUME)
        cast.chain.advance_time(601)
        with pytest.raises(E.NotCustodian):
            cast.unit2.recall(VOLUME)
        cast.unit.recall(VOLUME)
        state = cast.outsider.custody_state(VOLUME)
        assert state is not None
        assert (state.state, state.custodian) == (CustodyState.HELD, cast.unit.account)
        assert cast.outsider.get_transfer(VOLUME, 1).outcome is Outcome.RECALLED  # type: ignore[union-attr]
        with pytest.raises(E.NotInTransit):
            cast.unit2.receive(VOLUME, RECEIPT)  # too late: the dispatch is closed
