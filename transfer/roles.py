"""Roles and what each may do: the one place the access matrix is defined.

三员分立 (separation of the three administrators, as the classified-information
system rules require): the system administrator (系统管理员) manages units and their
keys but reads no archive data; the security administrator (安全保密管理员) suspends
and reinstates units, revokes keys and handles alerts; the security auditor
(安全审计员) only reads the read log, alerts and the audit trail. None of them
ingests or reads materials. Archive work (ingest, read, transfer) is the
``operator`` role of a unit, limited to the volumes that unit holds.

在线阅档 (分级授权): a ``reader`` (查阅人) reads nothing by role alone. They apply to
read given categories of given volumes for a purpose (查阅申请); an ``operator`` of the
unit that holds those volumes approves or refuses it (审批) — archive work of that unit,
never one of the three administrators, who read no archive data; the approved grant
lets that reader read those categories of those volumes until it expires or is
revoked (transfer/services/read_grants.py). The auditor lists every grant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"  # 系统管理员
    SECURITY = "security"  # 安全保密管理员
    AUDIT = "audit"  # 安全审计员
    OPERATOR = "operator"  # 单位经办人员
    READER = "reader"  # 查阅人 (reads only what a grant allows)


class Permission(enum.StrEnum):
    UNITS_READ = "units:read"
    UNITS_WRITE = "units:write"
    KEYS_ISSUE = "keys:issue"
    KEYS_READ = "keys:read"
    KEYS_REVOKE = "keys:revoke"
    KEYS_APPROVE = "keys:approve"
    UNITS_SUSPEND = "units:suspend"
    ALERTS_READ = "alerts:read"
    ALERTS_ACK = "alerts:ack"
    READ_LOG_READ = "read-log:read"
    AUDIT_READ = "audit:read"
    VOLUMES_READ = "volumes:read"
    VOLUMES_WRITE = "volumes:write"
    MATERIALS_READ = "materials:read"
    MATERIALS_INGEST = "materials:ingest"
    CONTENT_READ = "content:read"
    TRANSFERS = "transfers"
    VERIFY = "verify"
    # 在线阅档: apply for a grant and read within it (reader); decide on applications for
    # the caller's unit's volumes and revoke grants (operator); list every grant (auditor).
    READ_GRANTS_APPLY = "read-grants:apply"
    READ_GRANTS_DECIDE = "read-grants:decide"
    READ_GRANTS_AUDIT = "read-grants:audit"
    GRANTED_READ = "content:granted-read"


_P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset({_P.UNITS_READ, _P.UNITS_WRITE, _P.KEYS_ISSUE, _P.KEYS_READ}),
    Role.SECURITY: frozenset(
        {
            _P.UNITS_READ,
            _P.KEYS_READ,
            _P.KEYS_REVOKE,
            # The second person of a key issued over the API (三员分立).
            _P.KEYS_APPROVE,
            _P.UNITS_SUSPEND,
            _P.ALERTS_READ,
            _P.ALERTS_ACK,
        }
    ),
    Role.AUDIT: frozenset(
        {
            _P.UNITS_READ,
            _P.KEYS_READ,
            _P.ALERTS_READ,
            _P.READ_LOG_READ,
            _P.AUDIT_READ,
            _P.READ_GRANTS_AUDIT,
            _P.VERIFY,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            _P.VOLUMES_READ,
            _P.VOLUMES_WRITE,
            _P.MATERIALS_READ,
            _P.MATERIALS_INGEST,
            _P.CONTENT_READ,
            _P.TRANSFERS,
            _P.VERIFY,
            _P.READ_GRANTS_DECIDE,
        }
    ),
    Role.READER: frozenset({_P.READ_GRANTS_APPLY, _P.GRANTED_READ}),
}


def allows(role: Role, permission: Permission) -> bool:
    return refusal(role, permission) is None


# Roles an administrator may issue keys for over the API. Keys of the three
# administrator roles are issued on the server console only: an API administrator
# who could mint a security or audit key would hold all three powers at once.
API_ISSUABLE_ROLES: frozenset[Role] = frozenset({Role.OPERATOR, Role.READER})

ADMINISTRATOR_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.SECURITY, Role.AUDIT})

ROLE_NAMES: dict[Role, str] = {
    Role.ADMIN: "系统管理员",
    Role.SECURITY: "安全保密管理员",
    Role.AUDIT: "安全审计员",
    Role.OPERATOR: "单位经办人员",
    Role.READER: "查阅人",
}

PERMISSION_NAMES: dict[Permission, str] = {
    _P.UNITS_READ: "查看单位",
    _P.UNITS_WRITE: "登记单位和对端档案中心",
    _P.KEYS_ISSUE: "签发密钥",
    _P.KEYS_READ: "查看密钥清单",
    _P.KEYS_REVOKE: "吊销密钥",
    _P.KEYS_APPROVE: "批准密钥",
    _P.UNITS_SUSPEND: "暂停或恢复单位",
    _P.ALERTS_READ: "查看告警",
    _P.ALERTS_ACK: "确认告警",
    _P.READ_LOG_READ: "查看利用登记",
    _P.AUDIT_READ: "查看权限变更记录（审计记录）",
    _P.VOLUMES_READ: "查看档案卷",
    _P.VOLUMES_WRITE: "建立档案卷",
    _P.MATERIALS_READ: "查看材料目录",
    _P.MATERIALS_INGEST: "上传材料",
    _P.CONTENT_READ: "阅读档案内容",
    _P.TRANSFERS: "办理转递",
    _P.VERIFY: "核验",
    _P.READ_GRANTS_APPLY: "申请查阅",
    _P.READ_GRANTS_DECIDE: "审批查阅申请",
    _P.READ_GRANTS_AUDIT: "查看全部查阅授权",
    _P.GRANTED_READ: "在授权范围内阅档",
}


@dataclass(frozen=True)
class Refusal:
    """Why a role may not do something: ``message`` for the clerk (Chinese), ``rule``
    for programs (``role``: the role lacks the permission; ``separation-of-duties``:
    the permission is held but 三员分立 forbids this target)."""

    message: str
    rule: str


def refusal(
    role: Role,
    permission: Permission,
    *,
    target_role: Role | None = None,
    target_holds_administrator_keys: bool = False,
    target_is_own_unit: bool = False,
    issued_by_caller: bool = False,
) -> Refusal | None:
    """The one role decision of the service: None if ``role`` may use ``permission`` on
    this target, else why not. Every route consults it (``transfer.api.deps.require``
    for the permission alone, ``transfer.api.deps.enforce`` with the target), and the
    matrix in SECURITY.md §2.1 is rendered from it (:func:`matrix`).

    Targets: ``target_role`` is the role of the key issued or revoked;
    ``target_holds_administrator_keys`` whether the unit to suspend holds a live key of
    one of the three administrators; ``target_is_own_unit`` whether it is the caller's
    own unit; ``issued_by_caller`` whether the key to approve was issued by the caller."""
    who = ROLE_NAMES[role]
    if permission not in ROLE_PERMISSIONS[role]:
        return Refusal(
            f"{who}无权{PERMISSION_NAMES[permission]}（三员分立）：请由有此权限的人员办理",
            "role",
        )
    if permission in (_P.KEYS_ISSUE, _P.KEYS_REVOKE) and (
        target_role is not None and target_role not in API_ISSUABLE_ROLES
    ):
        act = "签发" if permission is _P.KEYS_ISSUE else "吊销"
        # An administrator who could mint an administrator key would hold all three
        # powers; one who could revoke one could silence another (the auditor above all).
        return Refusal(
            f"{ROLE_NAMES[target_role]}的密钥只能在服务器控制台{act}，不能通过接口{act}（三员分立）",
            "separation-of-duties",
        )
    if permission is _P.KEYS_APPROVE and issued_by_caller:
        return Refusal("签发密钥的人不能批准同一把密钥（三员分立）", "separation-of-duties")
    if permission is _P.UNITS_SUSPEND and target_holds_administrator_keys:
        # Suspending it would silence the administrators whose keys it holds.
        return Refusal(
            "该单位持有管理员密钥（三员），不能通过接口暂停：请在服务器控制台处理",
            "separation-of-duties",
        )
    if permission is _P.UNITS_SUSPEND and target_is_own_unit:
        # Suspending one's own unit would lock the security administrator out.
        return Refusal("不能用本单位的密钥暂停本单位", "separation-of-duties")
    return None


def sees_every_registration(role: Role) -> bool:
    """Whether a verify answer tells ``role`` everything about another unit's
    registration (SECURITY.md §8.5): the auditor, who oversees every unit."""
    return role is Role.AUDIT


@dataclass(frozen=True)
class Action:
    """A row of the separation-of-duties matrix: a privileged action and its target."""

    name: str
    label: str
    permission: Permission
    target_role: Role | None = None
    target_holds_administrator_keys: bool = False

    def refusal(self, role: Role) -> Refusal | None:
        return refusal(
            role,
            self.permission,
            target_role=self.target_role,
            target_holds_administrator_keys=self.target_holds_administrator_keys,
        )


ACTIONS: tuple[Action, ...] = (
    Action("unit.create", "register a unit (登记单位)", _P.UNITS_WRITE),
    Action("peers", "list and add peer centres (对端档案中心)", _P.UNITS_WRITE),
    Action("unit.list", "list units", _P.UNITS_READ),
    Action("key.list", "list a unit's keys (never the keys)", _P.KEYS_READ),
    *(
        Action(f"key.issue/{r}", f"issue a key of role {r}", _P.KEYS_ISSUE, target_role=r)
        for r in Role
    ),
    Action("key.approve", "approve an operator key", _P.KEYS_APPROVE),
    *(
        Action(f"key.revoke/{r}", f"revoke a key of role {r}", _P.KEYS_REVOKE, target_role=r)
        for r in Role
    ),
    Action("unit.suspend", "suspend a unit holding operator keys only", _P.UNITS_SUSPEND),
    Action(
        "unit.suspend/administrators",
        "suspend a unit holding an administrator's key (the auditor's included)",
        _P.UNITS_SUSPEND,
        target_holds_administrator_keys=True,
    ),
    Action("unit.reinstate", "reinstate a unit", _P.UNITS_SUSPEND),
    Action("alerts.read", "read alerts", _P.ALERTS_READ),
    Action("alerts.ack", "acknowledge an alert", _P.ALERTS_ACK),
    Action("read-log.read", "read the read log (利用登记)", _P.READ_LOG_READ),
    Action("access-log.read", "read the access log (权限变更)", _P.AUDIT_READ),
    Action("volume.create", "create a volume", _P.VOLUMES_WRITE),
    Action("material.ingest", "upload a material", _P.MATERIALS_INGEST),
    Action("content.read", "read archive content", _P.CONTENT_READ),
    Action("transfers", "transfer work (list, dispatch, receive)", _P.TRANSFERS),
    Action("verify", "verify by SM3, file or receipt", _P.VERIFY),
)


def matrix() -> list[tuple[Action, dict[Role, bool]]]:
    """Every action and, per role, whether the API allows it: the table in SECURITY.md."""
    return [(a, {r: a.refusal(r) is None for r in Role}) for a in ACTIONS]


def matrix_markdown() -> str:
    """The matrix as the Markdown table SECURITY.md §2.1 holds (a test compares them)."""
    head = "| action | `name` | " + " | ".join(r.value for r in Role) + " |"
    rule = "|---|---|" + "---|" * len(Role)
    rows = [
        f"| {a.label} | `{a.name}` | " + " | ".join("✓" if ok[r] else "—" for r in Role) + " |"
        for a, ok in matrix()
    ]
    return "\n".join([head, rule, *rows])
