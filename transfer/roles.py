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
    return permission in ROLE_PERMISSIONS[role]


# Roles an administrator may issue keys for over the API. Keys of the three
# administrator roles are issued on the server console only: an API administrator
# who could mint a security or audit key would hold all three powers at once.
API_ISSUABLE_ROLES: frozenset[Role] = frozenset({Role.OPERATOR, Role.READER})
