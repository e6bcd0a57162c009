// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Archive Notary: member registry, checkpoint anchors and volume custody.
/// @notice One deployment holds all three so that a verifier needs a single address.
///         Nothing personal is stored: volumes, logs and units are opaque 32-byte ids,
///         members' keys appear only as SM3 fingerprints computed off-chain.
/// @dev Compiled for evmVersion "paris" (no PUSH0), so it runs on py-evm, anvil, Besu, Quorum.
contract ArchiveNotary {
    // ---------------------------------------------------------------- types

    enum Role {
        NONE,
        ADMIN,
        ARCHIVE_CENTRE,
        UNIT,
        AUDITOR
    }

    enum Status {
        NONE,
        ACTIVE,
        SUSPENDED
    }

    enum CustodyState {
        NONE,
        HELD,
        IN_TRANSIT
    }

    enum Outcome {
        PENDING,
        RECEIVED,
        REJECTED,
        RECALLED
    }

    struct Member {
        Role role;
        Status status;
        uint48 memberSince; // block of addition
        uint48 suspendedAt; // block of the latest suspension; 0 while active
        bytes32 keyFingerprint; // SM3 of the 64-byte raw SM2 public key
        bytes32 unitId;
    }

    /// One entry per status change, so "was X active at block B" stays answerable
    /// after later suspensions or reinstatements.
    struct StatusChange {
        uint48 blockNumber;
        bool active;
    }

    struct Anchor {
        bytes32 root;
        address anchorer;
        uint48 blockNumber;
        uint40 timestamp;
    }

    struct Volume {
        address custodian;
        CustodyState state;
        uint32 transfers; // number of dispatches so far; the current one when IN_TRANSIT
    }

    struct Transfer {
        address from;
        uint48 dispatchedBlock;
        uint48 closedBlock; // 0 while pending
        address to;
        uint64 deadline; // unix seconds
        Outcome outcome;
        bytes32 packageRoot;
        bytes32 outcomeHash; // receipt hash on RECEIVED, reason hash on REJECTED
    }

    // ---------------------------------------------------------------- errors

    error NotMember(address account);
    error NotActive(address account);
    error WrongRole(address account, Role role);
    error AlreadyMember(address account);
    error AlreadyActive(address account);
    error InvalidRole();
    error ZeroAddress();
    error ZeroHash();
    error FingerprintInUse(bytes32 fingerprint, address account);
    error CannotSuspendSelf();
    error TreeSizeNotIncreasing(bytes32 logId, uint64 latest, uint64 given);
    error NotLogOwner(bytes32 logId, bytes32 ownerUnit);
    error AlreadyRegistered(bytes32 volumeId);
    error UnknownVolume(bytes32 volumeId);
    error UnitRegistersOnlyForItself(address custodian);
    error NotCustodian(bytes32 volumeId, address custodian);
    error NotAddressee(bytes32 volumeId, address addressee);
    error InTransit(bytes32 volumeId);
    error NotInTransit(bytes32 volumeId);
    error SelfDispatch(bytes32 volumeId);
    error DeadlineInPast(uint64 deadline, uint64 blockTimestamp);
    error DeadlineNotPassed(bytes32 volumeId, uint64 deadline);

    // ---------------------------------------------------------------- events

    event MemberAdded(
        address indexed account,
        Role role,
        bytes32 keyFingerprint,
        bytes32 indexed unitId,
        address indexed by
    );
    event MemberSuspended(address indexed account, address indexed by);
    event MemberReinstated(address indexed account, address indexed by);
    event CheckpointAnchored(
        bytes32 indexed logId,
        uint64 indexed treeSize,
        bytes32 root,
        address indexed anchorer
    );
    event VolumeRegistered(bytes32 indexed volumeId, address indexed custodian, address indexed by);
    event VolumeDispatched(
        bytes32 indexed volumeId,
        uint32 transfer,
        address indexed from,
        address indexed to,
        bytes32 packageRoot,
        uint64 deadline
    );
    event VolumeReceived(
        bytes32 indexed volumeId,
        uint32 transfer,
        address indexed from,
        address indexed to,
        bytes32 receiptHash
    );
    event VolumeRejected(
        bytes32 indexed volumeId,
        uint32 transfer,
        address indexed from,
        address indexed to,
        bytes32 reasonHash
    );
    event VolumeRecalled(bytes32 indexed volumeId, uint32 transfer, address indexed from);

    // ---------------------------------------------------------------- storage

    mapping(address => Member) private _members;
    mapping(address => StatusChange[]) private _history;
    mapping(bytes32 => address) private _fingerprintOwner;

    mapping(bytes32 => mapping(uint64 => Anchor)) private _anchors;
    mapping(bytes32 => uint64) private _latestSize;
    /// A log belongs to the unit of its first anchorer: another centre cannot
    /// block it by anchoring a larger size, and a unit's rotated account can go on.
    mapping(bytes32 => bytes32) private _logOwnerUnit;

    mapping(bytes32 => Volume) private _volumes;
    mapping(bytes32 => mapping(uint32 => Transfer)) private _transfers;

    constructor(bytes32 keyFingerprint, bytes32 unitId) {
        _add(msg.sender, Role.ADMIN, keyFingerprint, unitId);
    }

    // ---------------------------------------------------------------- guards

    function _requireActive(address account) private view returns (Role) {
        Member storage m = _members[account];
        if (m.status == Status.NONE) revert NotMember(account);
        if (m.status != Status.ACTIVE) revert NotActive(account);
        return m.role;
    }

    function _requireRole(address account, Role role) private view {
        Role actual = _requireActive(account);
        if (actual != role) revert WrongRole(account, actual);
    }

    /// Only archive centres and units hold volumes.
    function _requireHolder(address account) private view returns (Role) {
        Role actual = _requireActive(account);
        if (actual != Role.ARCHIVE_CENTRE && actual != Role.UNIT) {
            revert WrongRole(account, actual);
        }
        return actual;
    }

    function _blockNumber() private view returns (uint48) {
        return uint48(block.number);
    }

    // ---------------------------------------------------------------- membership

    function addMember(address account, Role role, bytes32 keyFingerprint, bytes32 unitId)
        external
    {
        _requireRole(msg.sender, Role.ADMIN);
        _add(account, role, keyFingerprint, unitId);
    }

    function _add(address account, Role role, bytes32 keyFingerprint, bytes32 unitId) private {
        if (account == address(0)) revert ZeroAddress();
        if (role == Role.NONE) revert InvalidRole();
        if (keyFingerprint == bytes32(0) || unitId == bytes32(0)) revert ZeroHash();
        if (_members[account].status != Status.NONE) revert AlreadyMember(account);
        address holder = _fingerprintOwner[keyFingerprint];
        if (holder != address(0)) revert FingerprintInUse(keyFingerprint, holder);

        _members[account] = Member({
            role: role,
            status: Status.ACTIVE,
            memberSince: _blockNumber(),
            suspendedAt: 0,
            keyFingerprint: keyFingerprint,
            unitId: unitId
        });
        _fingerprintOwner[keyFingerprint] = account;
        _history[account].push(StatusChange({blockNumber: _blockNumber(), active: true}));
        emit MemberAdded(account, role, keyFingerprint, unitId, msg.sender);
    }

    function suspendMember(address account) external {
        _requireRole(msg.sender, Role.ADMIN);
        // An admin suspending itself could leave the registry without any admin.
        if (account == msg.sender) revert CannotSuspendSelf();
        _requireActive(account);
        Member storage m = _members[account];
        m.status = Status.SUSPENDED;
        m.suspendedAt = _blockNumber();
        _history[account].push(StatusChange({blockNumber: _blockNumber(), active: false}));
        emit MemberSuspended(account, msg.sender);
    }

    function reinstateMember(address account) external {
        _requireRole(msg.sender, Role.ADMIN);
        Member storage m = _members[account];
        if (m.status == Status.NONE) revert NotMember(account);
        if (m.status == Status.ACTIVE) revert AlreadyActive(account);
        m.status = Status.ACTIVE;
        m.suspendedAt = 0;
        _history[account].push(StatusChange({blockNumber: _blockNumber(), active: true}));
        emit MemberReinstated(account, msg.sender);
    }

    function getMember(address account) external view returns (Member memory) {
        return _members[account];
    }

    function memberByFingerprint(bytes32 keyFingerprint) external view returns (address) {
        return _fingerprintOwner[keyFingerprint];
    }

    function memberHistory(address account) external view returns (StatusChange[] memory) {
        return _history[account];
    }

    /// Whether `account` was an active member with `role` at the end of block `blockNumber`.
    function wasActiveAt(address account, Role role, uint64 blockNumber)
        external
        view
        returns (bool)
    {
        if (_members[account].role != role) return false;
        StatusChange[] storage changes = _history[account];
        // Binary search for the last change at or before blockNumber.
        uint256 lo = 0;
        uint256 hi = changes.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (changes[mid].blockNumber <= blockNumber) lo = mid + 1;
            else hi = mid;
        }
        return lo > 0 && changes[lo - 1].active;
    }

    // ---------------------------------------------------------------- anchoring

    /// Only active archive centres anchor, so an anchor's existence proves that its
    /// anchorer was an active archive centre in the anchor's block.
    function anchor(bytes32 logId, uint64 treeSize, bytes32 root) external {
        _requireRole(msg.sender, Role.ARCHIVE_CENTRE);
        if (logId == bytes32(0) || root == bytes32(0)) revert ZeroHash();
        bytes32 unitId = _members[msg.sender].unitId;
        bytes32 owner = _logOwnerUnit[logId];
        if (owner == bytes32(0)) _logOwnerUnit[logId] = unitId;
        else if (owner != unitId) revert NotLogOwner(logId, owner);
        uint64 latestSize = _latestSize[logId];
        if (treeSize <= latestSize) revert TreeSizeNotIncreasing(logId, latestSize, treeSize);

        _latestSize[logId] = treeSize;
        _anchors[logId][treeSize] = Anchor({
            root: root,
            anchorer: msg.sender,
            blockNumber: _blockNumber(),
            timestamp: uint40(block.timestamp)
        });
        emit CheckpointAnchored(logId, treeSize, root, msg.sender);
    }

    /// All-zero when nothing is anchored at that size.
    function getAnchor(bytes32 logId, uint64 treeSize) external view returns (Anchor memory) {
        return _anchors[logId][treeSize];
    }

    /// Tree size 0 and an all-zero anchor when the log has none.
    function latest(bytes32 logId) external view returns (uint64 treeSize, Anchor memory) {
        treeSize = _latestSize[logId];
        return (treeSize, _anchors[logId][treeSize]);
    }

    function logOwnerUnit(bytes32 logId) external view returns (bytes32) {
        return _logOwnerUnit[logId];
    }

    // ---------------------------------------------------------------- custody

    function registerVolume(bytes32 volumeId, address custodian) external {
        Role callerRole = _requireHolder(msg.sender);
        if (volumeId == bytes32(0)) revert ZeroHash();
        // Centres register volumes for the units they serve; a unit only for itself.
        if (callerRole == Role.UNIT && custodian != msg.sender) {
            revert UnitRegistersOnlyForItself(custodian);
        }
        _requireHolder(custodian);
        Volume storage v = _volumes[volumeId];
        if (v.state != CustodyState.NONE) revert AlreadyRegistered(volumeId);
        v.custodian = custodian;
        v.state = CustodyState.HELD;
        emit VolumeRegistered(volumeId, custodian, msg.sender);
    }

    function dispatchVolume(bytes32 volumeId, address to, bytes32 packageRoot, uint64 deadline)
        external
    {
        Volume storage v = _held(volumeId);
        if (v.custodian != msg.sender) revert NotCustodian(volumeId, v.custodian);
        _requireActive(msg.sender);
        if (to == msg.sender) revert SelfDispatch(volumeId);
        _requireHolder(to);
        if (packageRoot == bytes32(0)) revert ZeroHash();
        if (deadline <= block.timestamp) revert DeadlineInPast(deadline, uint64(block.timestamp));

        uint32 n = v.transfers + 1;
        v.transfers = n;
        v.state = CustodyState.IN_TRANSIT;
        _transfers[volumeId][n] = Transfer({
            from: msg.sender,
            dispatchedBlock: _blockNumber(),
            closedBlock: 0,
            to: to,
            deadline: deadline,
            outcome: Outcome.PENDING,
            packageRoot: packageRoot,
            outcomeHash: bytes32(0)
        });
        emit VolumeDispatched(volumeId, n, msg.sender, to, packageRoot, deadline);
    }

    function receiveVolume(bytes32 volumeId, bytes32 receiptHash) external {
        (Volume storage v, Transfer storage t) = _inTransitTo(volumeId, receiptHash);
        v.custodian = msg.sender;
        v.state = CustodyState.HELD;
        _close(t, Outcome.RECEIVED, receiptHash);
        emit VolumeReceived(volumeId, v.transfers, t.from, msg.sender, receiptHash);
    }

    /// The volume stays with (returns to) its sender.
    function rejectVolume(bytes32 volumeId, bytes32 reasonHash) external {
        (Volume storage v, Transfer storage t) = _inTransitTo(volumeId, reasonHash);
        v.state = CustodyState.HELD;
        _close(t, Outcome.REJECTED, reasonHash);
        emit VolumeRejected(volumeId, v.transfers, t.from, msg.sender, reasonHash);
    }

    /// The sender takes a volume back when the addressee let the deadline pass.
    function recallVolume(bytes32 volumeId) external {
        Volume storage v = _volumes[volumeId];
        if (v.state == CustodyState.NONE) revert UnknownVolume(volumeId);
        if (v.state != CustodyState.IN_TRANSIT) revert NotInTransit(volumeId);
        if (v.custodian != msg.sender) revert NotCustodian(volumeId, v.custodian);
        _requireActive(msg.sender);
        Transfer storage t = _transfers[volumeId][v.transfers];
        if (block.timestamp <= t.deadline) revert DeadlineNotPassed(volumeId, t.deadline);
        v.state = CustodyState.HELD;
        _close(t, Outcome.RECALLED, bytes32(0));
        emit VolumeRecalled(volumeId, v.transfers, msg.sender);
    }

    function _held(bytes32 volumeId) private view returns (Volume storage v) {
        v = _volumes[volumeId];
        if (v.state == CustodyState.NONE) revert UnknownVolume(volumeId);
        if (v.state == CustodyState.IN_TRANSIT) revert InTransit(volumeId);
    }

    function _inTransitTo(bytes32 volumeId, bytes32 outcomeHash)
        private
        view
        returns (Volume storage v, Transfer storage t)
    {
        v = _volumes[volumeId];
        if (v.state == CustodyState.NONE) revert UnknownVolume(volumeId);
        if (v.state != CustodyState.IN_TRANSIT) revert NotInTransit(volumeId);
        t = _transfers[volumeId][v.transfers];
        if (t.to != msg.sender) revert NotAddressee(volumeId, t.to);
        _requireActive(msg.sender);
        if (outcomeHash == bytes32(0)) revert ZeroHash();
    }

    function _close(Transfer storage t, Outcome outcome, bytes32 outcomeHash) private {
        t.outcome = outcome;
        t.outcomeHash = outcomeHash;
        t.closedBlock = _blockNumber();
    }

    /// While IN_TRANSIT the custodian is still the sender; see `getTransfer` for the addressee.
    function getVolume(bytes32 volumeId) external view returns (Volume memory) {
        return _volumes[volumeId];
    }

    function getTransfer(bytes32 volumeId, uint32 transfer) external view returns (Transfer memory) {
        return _transfers[volumeId][transfer];
    }
}
