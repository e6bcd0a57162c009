"""Verification results of a received transfer, mapped to the four properties (四性).

DA/T 70 and the archive-transfer rules judge a received electronic material by
真实性 (authenticity), 完整性 (completeness), 可用性 (usability) and 安全性 (security).
Every check the receiver performs belongs to exactly one of them; a property passes
for a material when at least one of its checks ran and every one passed. A check that
could not run (its input was missing or a prerequisite failed) is recorded as
skipped, and leaves the property "not established" (未能检查) rather than passed.

The compact JSON form (``docs/transfer-format.md`` §4.3) is what the signed receipt
(回执) carries: per material the four statuses plus every check that did not pass,
with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from transfer.workflow import _fields as f
from transfer.workflow.errors import ActFormatError

MAX_DETAIL = 500


class Property(StrEnum):
    AUTHENTICITY = "authenticity"
    COMPLETENESS = "completeness"
    USABILITY = "usability"
    SECURITY = "security"

    @property
    def zh(self) -> str:
        return _ZH[self]


_ZH = {
    Property.AUTHENTICITY: "真实性",
    Property.COMPLETENESS: "完整性",
    Property.USABILITY: "可用性",
    Property.SECURITY: "安全性",
}


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"  # could not run (a prerequisite failed) or not established

    @property
    def zh(self) -> str:
        return {"pass": "通过", "fail": "不通过", "skipped": "未能检查"}[self.value]


@dataclass(frozen=True, slots=True)
class Check:
    property: Property
    name: str  # short stable identifier, e.g. "sm3", "gcm-tag", "present"
    status: Status
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "property": self.property.value,
            "check": self.name,
            "status": self.status.value,
            "detail": self.detail[:MAX_DETAIL],
        }


def property_status(checks: Iterable[Check], prop: Property) -> Status:
    """FAIL if a check failed; SKIPPED if one could not run or none ran; else PASS."""
    statuses = [c.status for c in checks if c.property is prop]
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.SKIPPED in statuses or not statuses:
        return Status.SKIPPED
    return Status.PASS


@dataclass(frozen=True, slots=True)
class MaterialResult:
    material_id: str
    checks: tuple[Check, ...]

    def status(self, prop: Property) -> Status:
        return property_status(self.checks, prop)

    @property
    def passed(self) -> bool:
        return all(self.status(p) is Status.PASS for p in Property)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status is not Status.PASS]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"material_id": self.material_id}
        for p in Property:
            doc[p.value] = self.status(p).value
        doc["failures"] = [c.to_json() for c in self.failures()]
        return doc


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What the receiver established about one received package."""

    transfer_id: str
    package_root: bytes
    materials: tuple[MaterialResult, ...]
    transfer_checks: tuple[Check, ...]  # about the package as a whole (signatures, counts…)

    @property
    def accepted(self) -> bool:
        return all(c.status is Status.PASS for c in self.transfer_checks) and all(
            m.passed for m in self.materials
        )

    def material(self, material_id: str) -> MaterialResult:
        return next(m for m in self.materials if m.material_id == material_id)

    def to_json(self) -> dict[str, Any]:
        """The compact form a receipt carries (transfer id and root are in the act body)."""
        return {
            "materials": [m.to_json() for m in self.materials],
            "transfer": [c.to_json() for c in self.transfer_checks],
        }

    def summary_zh(self) -> str:
        """A short Chinese summary for the receiving unit's staff."""
        lines = [f"转递 {self.transfer_id} 核验结果：{'通过' if self.accepted else '不通过'}"]
        for c in self.transfer_checks:
            if c.status is not Status.PASS:
                lines.append(f"  整体 {c.property.zh}（{c.name}）{c.status.zh}：{c.detail}")
        for m in self.materials:
            for c in m.failures():
                lines.append(
                    f"  材料 {m.material_id} {c.property.zh}（{c.name}）{c.status.zh}：{c.detail}"
                )
        return "\n".join(lines)


# ---------------------------------------------------------------- parsing (compact form)


def _check(doc: Any, where: str) -> Check:
    o = f.obj(doc, where, ActFormatError)
    f.exact_keys(o, where, {"property", "check", "status", "detail"}, ActFormatError)
    try:
        prop, status = Property(o["property"]), Status(o["status"])
    except ValueError:
        raise ActFormatError(f"{where}: unknown property or status") from None
    name = f.ident(o, "check", lambda m: ActFormatError(f"{where}.{m}"))
    detail = o["detail"]
    if not isinstance(detail, str) or len(detail) > MAX_DETAIL:
        raise ActFormatError(f"{where}.detail must be a string of at most {MAX_DETAIL} chars")
    return Check(prop, name, status, detail)


def parse_report(
    doc: Any, transfer_id: str, package_root: bytes, *, max_materials: int
) -> VerificationReport:
    """Parse the compact form; statuses must agree with the listed failures."""
    o = f.obj(doc, "results", ActFormatError)
    f.exact_keys(o, "results", {"materials", "transfer"}, ActFormatError)
    transfer_checks = tuple(
        _check(c, f"results.transfer[{i}]")
        for i, c in enumerate(f.array(o, "transfer", ActFormatError, max_len=64))
    )
    materials = []
    seen: set[str] = set()
    for i, m in enumerate(f.array(o, "materials", ActFormatError, max_len=max_materials)):
        where = f"results.materials[{i}]"
        m = f.obj(m, where, ActFormatError)
        f.exact_keys(m, where, {"material_id", "failures", *Property}, ActFormatError)
        mid = f.ident(m, "material_id", ActFormatError)
        if mid in seen:
            raise ActFormatError(f"{where}: material {mid} is listed twice")
        seen.add(mid)
        failures = tuple(
            _check(c, f"{where}.failures[{j}]")
            for j, c in enumerate(f.array(m, "failures", ActFormatError, max_len=64))
        )
        if any(c.status is Status.PASS for c in failures):
            raise ActFormatError(f"{where}: a passed check is listed among the failures")
        checks = list(failures)
        for p in Property:
            try:
                declared = Status(m[p.value])
            except ValueError:
                raise ActFormatError(f"{where}.{p.value}: unknown status") from None
            # Passing checks are not carried; a property declared "pass" stands for them.
            if declared is Status.PASS:
                checks.append(Check(p, "declared", Status.PASS))
            if property_status(checks, p) is not declared:
                raise ActFormatError(f"{where}.{p.value} is {declared}, its failures disagree")
        materials.append(MaterialResult(mid, tuple(checks)))
    return VerificationReport(transfer_id, package_root, tuple(materials), transfer_checks)
