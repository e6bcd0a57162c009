"""The audit report: findings under the four properties (四性) and their counts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

AUTHENTICITY, COMPLETENESS, USABILITY, SECURITY = "真实性", "完整性", "可用性", "安全性"


PROPERTIES = (AUTHENTICITY, COMPLETENESS, USABILITY, SECURITY)


PROPERTY_EN = {
    AUTHENTICITY: "authenticity",
    COMPLETENESS: "completeness",
    USABILITY: "usability",
    SECURITY: "security",
}

RECORD_KINDS = {
    "read_log": ("利用登记", "read-record"),
    "transfer_events": ("转递事件", "transfer-record"),
    "access_events": ("权限变更", "access-record"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    property: str
    check: str
    subject: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {
            "property": self.property,
            "property_en": PROPERTY_EN[self.property],
            "check": self.check,
            "subject": self.subject,
            "detail": self.detail,
        }


@dataclass
class Report:
    scope: str
    started_ms: int
    finished_ms: int = 0
    materials: int = 0
    # Both sizes, named: the SM4-GCM ciphertext re-hashed against its CID (fixity), and
    # the decrypted content re-hashed with SM3 (the size ingest reports).
    sealed_bytes_rehashed: int = 0
    plain_bytes_rehashed: int = 0
    proofs_checked: int = 0
    checkpoints_checked: int = 0
    custody_events: int = 0
    volumes: int = 0
    # Other rows re-derived from their entries, by kind (RECORD_KINDS).
    records: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROPERTIES, 0))
    # What was covered, one row each: materials, custody events, other logged records.
    material_rows: list[dict[str, Any]] = field(default_factory=list)
    custody_rows: list[dict[str, Any]] = field(default_factory=list)
    record_rows: list[dict[str, Any]] = field(default_factory=list)
    tool_version: str = ""
    # The chain the anchors were checked against, as read when the audit ran.
    chain_state: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_property(self) -> dict[str, list[Problem]]:
        out: dict[str, list[Problem]] = {p: [] for p in PROPERTIES}
        for p in self.problems:
            out[p.property].append(p)
        return out

    def to_json(self) -> dict[str, Any]:
        grouped = self.by_property()
        return {
            "format": "archive-notary/audit-report/v2",
            "scope": self.scope,
            "started_ms": self.started_ms,
            "finished_ms": self.finished_ms,
            "tool_version": self.tool_version,
            "chain": self.chain_state,
            "summary": {
                "materials": self.materials,
                "materials_passed": sum(1 for r in self.material_rows if r["passed"]),
                "materials_with_problems": sum(1 for r in self.material_rows if not r["passed"]),
                "sealed_bytes_rehashed": self.sealed_bytes_rehashed,
                "plain_bytes_rehashed": self.plain_bytes_rehashed,
                "proofs_checked": self.proofs_checked,
                "checkpoints_checked": self.checkpoints_checked,
                "volumes": self.volumes,
                "custody_events": self.custody_events,
                "records": {k: self.records.get(k, 0) for k in RECORD_KINDS},
                "problems": len(self.problems),
                "result": "通过" if self.ok else "未通过",
                "by_property": {
                    p: {"problems": len(grouped[p]), "passed": self.passed[p]} for p in PROPERTIES
                },
            },
            "problems": [p.to_json() for p in self.problems],
            "materials": self.material_rows,
            "custody_events": self.custody_rows,
            "records": self.record_rows,
        }


def new_report(scope: str) -> Report:
    return Report(scope=scope, started_ms=int(time.time() * 1000))
