"""Log entries: canonical records of the events the notary proves.

An entry is a JSON object with ``type`` and ``v`` (schema version); its log leaf is
RFC 8785 canonical bytes. Personal identifiers never appear in clear: a cadre is
represented by ``blind_id`` (HMAC-SM3 under the deployment's secret), so the public
log and chain reveal nothing about whose archive a material belongs to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from notary.canonical import CanonicalJSONError, canonical_json, parse_json
from notary.crypto import hmac_sm3, is_hex_digest
from notary.errors import EntryMismatch, FormatError

MATERIAL_REGISTERED = "material.registered"
CUSTODY_EVENT = "custody.event"
MATERIAL_READ = "material.read"
TRANSFER_RECEIPT = "transfer.receipt"
ACCESS_EVENT = "access.event"
ENTRY_TYPES = frozenset(
    {MATERIAL_REGISTERED, CUSTODY_EVENT, MATERIAL_READ, TRANSFER_RECEIPT, ACCESS_EVENT}
)
# A transfer's transitions are custody entries whose ``event`` carries this prefix.
TRANSFER_EVENT_PREFIX = "transfer."

# The ten categories of cadre personnel archives (干部人事档案材料分类).
CATEGORIES = (
    "1", "2", "3", "4-1", "4-2", "4-3", "4-4", "5", "6", "7", "8",
    "9-1", "9-2", "9-3", "9-4", "10",
)  # fmt: skip


def blind_id(secret: bytes, identifier: str) -> str:
    """The blinded stand-in for a personal identifier (HMAC-SM3, hex)."""
    if len(secret) < 16:
        raise ValueError("the blinding secret must be at least 16 bytes")
    return hmac_sm3(secret, identifier.encode("utf-8")).hex()


def material_registered(
    *,
    material_id: str,
    sm3_hex: str,
    cid: str,
    size: int,
    category: str,
    volume: str,
    unit: str,
    version: int,
    time_ms: int,
    supersedes: str | None = None,
) -> dict[str, Any]:
    if category not in CATEGORIES:
        raise FormatError(f"unknown material category {category!r}")
    if not is_hex_digest(sm3_hex):
        raise FormatError("sm3 must be 64 lowercase hex digits")
    entry: dict[str, Any] = {
        "type": MATERIAL_REGISTERED,
        "v": 1,
        "material_id": material_id,
        "sm3": sm3_hex,
        "cid": cid,
        "size": size,
        "category": category,
        "volume": volume,
        "unit": unit,
        "version": version,
        "time_ms": time_ms,
    }
    if supersedes is not None:
        entry["supersedes"] = supersedes
    return entry


def custody_event(
    *,
    event: str,
    volume: str,
    time_ms: int,
    from_unit: str | None = None,
    to_unit: str | None = None,
    transfer_id: str | None = None,
    tx: str | None = None,
) -> dict[str, Any]:
    """A volume's custody fact (registered, dispatched, received, returned, ...).

    ``volume`` is the blinded volume reference; units are named by code. Optional
    fields are left out when absent, so an entry says only what happened: the service
    writes it from a ``custody_events`` row, and the audit rebuilds it from the row to
    find a row that no longer says what was logged.
    """
    entry: dict[str, Any] = {
        "type": CUSTODY_EVENT,
        "v": 1,
        "event": event,
        "volume": volume,
        "time_ms": time_ms,
    }
    optional = {"from": from_unit, "to": to_unit, "transfer_id": transfer_id, "tx": tx}
    entry.update({k: v for k, v in optional.items() if v is not None})
    return entry


def material_read(*, material_id: str, unit: str, purpose: str, time_ms: int) -> dict[str, Any]:
    """A content read (利用登记): which material, by which unit (code), why, when.

    Built from a ``read_log`` row when the read is logged and again by every checker, so
    a row changed afterwards no longer derives the entry that was logged.
    """
    return {
        "type": MATERIAL_READ,
        "v": 1,
        "material_id": material_id,
        "unit": unit,
        "purpose": purpose,
        "time_ms": time_ms,
    }


def access_event(
    *,
    action: str,
    unit: str,
    actor: str | None,
    time_ms: int,
    key: str | None = None,
    role: str | None = None,
    grant: str | None = None,
) -> dict[str, Any]:
    """A change of who may do what (三员分立): ``action`` (``key.issue``,
    ``key.approve``, ``key.revoke``, ``unit.create``, ``unit.suspend``,
    ``unit.reinstate``; for 在线阅档 ``grant.apply``, ``grant.approve``, ``grant.refuse``,
    ``grant.revoke``) on ``unit`` (code), by the key ``actor`` (its id; None: the server
    console), about API key ``key`` of role ``role``, and read grant ``grant`` (its id).

    Built from an ``access_events`` row when it is logged and again by every checker."""
    entry: dict[str, Any] = {
        "type": ACCESS_EVENT,
        "v": 1,
        "action": action,
        "unit": unit,
        "time_ms": time_ms,
    }
    optional = {"actor": actor, "key": key, "role": role, "grant": grant}
    entry.update({k: v for k, v in optional.items() if v is not None})
    return entry


def transfer_event(
    *,
    event: str,
    transfer_id: str,
    state: str,
    time_ms: int,
    package_root: str | None = None,
    tx: list[str] | None = None,
) -> dict[str, Any]:
    """One transition of a transfer (``event`` is the step, e.g. ``package``; ``state``
    the state it led to), logged as a ``custody.event`` with ``event: transfer.<step>``.
    ``package_root`` once the transfer is packaged; ``tx`` only when the step called the
    chain."""
    entry: dict[str, Any] = {
        "type": CUSTODY_EVENT,
        "v": 1,
        "event": f"{TRANSFER_EVENT_PREFIX}{event}",
        "transfer_id": transfer_id,
        "state": state,
        "time_ms": time_ms,
    }
    if package_root is not None:
        entry["package_root"] = package_root
    if tx:
        entry["tx"] = list(tx)
    return entry


def is_transfer_event(entry: dict[str, Any]) -> bool:
    event = entry.get("event")
    return (
        entry.get("type") == CUSTODY_EVENT
        and isinstance(event, str)
        and event.startswith(TRANSFER_EVENT_PREFIX)
    )


# The log's subject index (``log_subjects`` in the service database): which entries are
# about which subject, so that an audit of one volume reads that volume's entries only.
# Kinds, and the field of the entry that names the subject:
SUBJECT_CUSTODY = "custody"  # a volume's custody.event: the blinded volume reference
SUBJECT_READ = "read"  # a material.read: the material id
SUBJECT_TRANSFER = "transfer"  # a transfer's step (custody.event transfer.*): the transfer id
SUBJECT_MAX = 64  # longest subject the index holds (refs, ids); a longer one is not indexed


def entry_subject(entry: Any) -> tuple[str, str] | None:
    """The (kind, subject) the log's subject index files ``entry`` under, None for an
    entry it does not index (registrations, access events, anything malformed). The one
    definition of the writer (``DbTreeStorage.put_entries``), the migration's backfill
    and the audit that checks an index row against the log."""
    if not isinstance(entry, dict):
        return None
    kind = entry.get("type")
    if kind == MATERIAL_READ:
        found = (SUBJECT_READ, entry.get("material_id"))
    elif kind == CUSTODY_EVENT and is_transfer_event(entry):
        found = (SUBJECT_TRANSFER, entry.get("transfer_id"))
    elif kind == CUSTODY_EVENT:
        found = (SUBJECT_CUSTODY, entry.get("volume"))
    else:
        return None
    subject = found[1]
    if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_MAX:
        return None
    return found[0], subject


def check_describes(
    entry: dict[str, Any],
    *,
    material_id: str | None = None,
    sm3_hex: str | None = None,
    cid: str | None = None,
) -> None:
    """The registration ``entry`` describes the material known by the given facts (a
    fact left ``None`` is not compared); :class:`EntryMismatch` names the first that
    differs. The one comparison of the reader, the audit, the 四性 check and the SDK."""
    for name, want in (("material_id", material_id), ("sm3", sm3_hex), ("cid", cid)):
        if want is not None and entry.get(name) != want:
            raise EntryMismatch(
                f"the log entry's {name} is {entry.get(name)!r}, the material's is {want!r}"
            )


def differing_fields(expected: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """The keys whose values differ between two entries (sorted)."""
    return sorted(k for k in expected.keys() | stored.keys() if expected.get(k) != stored.get(k))


# --- the normative v1 shapes (docs/receipt-format.md §3, docs/receipt.schema.json) ------
#
# A reader checks an entry against exactly one of these before it believes anything the
# entry says: which fields, of which type, which are optional. Unknown fields are format
# errors, so an entry means one thing to every verifier. The JSON Schema in docs/ states
# the same shapes; tests/notary/receipts/test_format_doc.py keeps the two in step.

_MAX_INT = 2**53 - 1  # I-JSON (RFC 7493): what every JSON reader represents exactly
_TX = re.compile(r"^0x[0-9a-f]{64}$")
# Custody facts of a volume (the ``event`` of a volume's custody.event).
VOLUME_EVENTS = ("registered", "dispatched", "received", "rejected", "returned")
# Steps of a transfer (``transfer.<step>``) and the states a step leads to; the same
# names as transfer.workflow.state, which ``notary`` may not import.
TRANSFER_STEPS = (
    "create", "package", "dispatch", "deliver", "verify", "accept", "reject", "return",
    "recall", "custody",
)  # fmt: skip
TRANSFER_STATES = (
    "created", "packaged", "dispatched", "delivered", "verified", "received", "rejected",
    "returned",
)  # fmt: skip

# What an access.event records (三员分立).
ACCESS_ACTIONS = (
    "key.issue", "key.approve", "key.revoke", "unit.create", "unit.suspend", "unit.reinstate",
    "grant.apply", "grant.approve", "grant.refuse", "grant.revoke",
)  # fmt: skip

Check = Callable[[Any], bool]


def _int_at_least(low: int) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= _MAX_INT


def _one_of(values: Iterable[str]) -> Check:
    allowed = frozenset(values)
    return lambda v: isinstance(v, str) and v in allowed


def _text(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _tx(v: Any) -> bool:
    return isinstance(v, str) and _TX.fullmatch(v) is not None


def _tx_list(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(_tx(x) for x in v)


_TIME = _int_at_least(0)
# name -> (check, what it must be, required)
Shape = dict[str, tuple[Check, str, bool]]
# ``type`` chose the shape (shape_of) and ``v`` is checked first (check_entry).
_COMMON: Shape = {"type": (_text, "a string", True), "v": (lambda v: v == 1, "1", True)}
SHAPES: dict[str, Shape] = {
    MATERIAL_REGISTERED: _COMMON
    | {
        "material_id": (_text, "a non-empty string", True),
        "sm3": (is_hex_digest, "64 lowercase hex digits", True),
        "cid": (_text, "a non-empty string", True),
        "size": (_int_at_least(0), "an integer ≥ 0", True),
        "category": (_one_of(CATEGORIES), "a category code", True),
        "volume": (is_hex_digest, "64 lowercase hex digits", True),
        "unit": (_text, "a non-empty string", True),
        "version": (_int_at_least(1), "an integer ≥ 1", True),
        "time_ms": (_TIME, "an integer ≥ 0", True),
        "supersedes": (_text, "a non-empty string", False),
    },
    "custody.event/volume": _COMMON
    | {
        "event": (_one_of(VOLUME_EVENTS), "a volume custody event", True),
        "volume": (is_hex_digest, "64 lowercase hex digits", True),
        "time_ms": (_TIME, "an integer ≥ 0", True),
        "from": (_text, "a non-empty string", False),
        "to": (_text, "a non-empty string", False),
        "transfer_id": (_text, "a non-empty string", False),
        "tx": (_tx, "0x and 64 lowercase hex digits", False),
    },
    "custody.event/transfer": _COMMON
    | {
        "event": (_one_of(f"{TRANSFER_EVENT_PREFIX}{s}" for s in TRANSFER_STEPS), "a step", True),
        "transfer_id": (_text, "a non-empty string", True),
        "state": (_one_of(TRANSFER_STATES), "a transfer state", True),
        "time_ms": (_TIME, "an integer ≥ 0", True),
        "package_root": (is_hex_digest, "64 lowercase hex digits", False),
        "tx": (_tx_list, "a non-empty array of 0x-prefixed transaction hashes", False),
    },
    MATERIAL_READ: _COMMON
    | {
        "material_id": (_text, "a non-empty string", True),
        "unit": (_text, "a non-empty string", True),
        "purpose": (_text, "a non-empty string", True),
        "time_ms": (_TIME, "an integer ≥ 0", True),
    },
    ACCESS_EVENT: _COMMON
    | {
        "action": (_one_of(ACCESS_ACTIONS), "an access action", True),
        "unit": (_text, "a non-empty string", True),
        "time_ms": (_TIME, "an integer ≥ 0", True),
        "actor": (_text, "a non-empty string", False),
        "key": (_text, "a non-empty string", False),
        "role": (_text, "a non-empty string", False),
        "grant": (_text, "a non-empty string", False),
    },
}


def shape_of(entry: dict[str, Any]) -> str:
    """The name of the v1 shape an entry must have (a key of :data:`SHAPES`)."""
    kind = entry.get("type")
    if kind == CUSTODY_EVENT:
        return "custody.event/transfer" if is_transfer_event(entry) else "custody.event/volume"
    if kind in (MATERIAL_REGISTERED, MATERIAL_READ, ACCESS_EVENT):
        return str(kind)
    if kind == TRANSFER_RECEIPT:
        # Reserved: no v1 writer logs it (a 回执 is logged as custody.event
        # transfer.accept, its hash is on chain), so v1 defines no fields for it.
        raise FormatError("entry type 'transfer.receipt' is reserved and has no v1 form")
    raise FormatError(f"unknown entry type {kind!r:.80}")


def check_entry(entry: Any) -> None:
    """Raise :class:`FormatError` unless ``entry`` has exactly one normative v1 shape."""
    if not isinstance(entry, dict):
        raise FormatError("an entry is a JSON object")
    if entry.get("v") != 1 or isinstance(entry.get("v"), bool):
        raise FormatError(f"unknown entry version {entry.get('v')!r} (this reader knows v 1)")
    name = shape_of(entry)
    shape = SHAPES[name]
    unknown = sorted(set(entry) - set(shape))
    if unknown:
        raise FormatError(f"{name} entry has unknown fields {unknown}")
    for key, (ok, what, required) in shape.items():
        if key not in entry:
            if required:
                raise FormatError(f"{name} entry lacks field {key!r}")
        elif not ok(entry[key]):
            raise FormatError(f"{name} entry field {key!r} must be {what}")


def encode_entry(entry: dict[str, Any]) -> bytes:
    """The leaf bytes of an entry."""
    kind = entry.get("type")
    if not isinstance(kind, str) or kind not in ENTRY_TYPES or not isinstance(entry.get("v"), int):
        raise FormatError("an entry needs a known 'type' and an integer 'v'")
    try:
        return canonical_json(entry)
    except CanonicalJSONError as e:  # a float, an integer beyond I-JSON, ...
        raise FormatError(f"an entry must be canonical JSON: {e}") from None


def decode_entry(data: bytes) -> dict[str, Any]:
    """Parse leaf bytes; they must be exactly the canonical encoding.

    Bytes that are the canonical encoding of what plain ``json.loads`` reads from them
    are accepted as read: such bytes hold no duplicate key, non-finite number or deep
    nesting (the canonical encoder writes none), so the strict reading gives the same
    object; a flat object is tried this way first (the audit decodes every material's
    entry). Anything else takes the strict path, with its errors."""
    if data[:1] == b"{" and data.count(b"{") == 1 and b"[" not in data:  # flat: no deep nest
        try:
            fast = json.loads(data)
            if type(fast) is dict and encode_entry(fast) == data:
                return fast
        except (ValueError, FormatError):  # JSONDecodeError, UnicodeDecodeError
            pass
    try:
        obj = parse_json(data)
    except (CanonicalJSONError, UnicodeDecodeError) as e:
        raise FormatError(f"entry bytes are not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise FormatError("an entry is a JSON object")
    if encode_entry(obj) != data:
        raise FormatError("entry bytes are not in canonical form")
    return obj
