"""The auditor's re-verification of holdings, reported under the four properties (四性).

Mapping of findings to 真实性、完整性、可用性、安全性 (after DA/T 70 and GB/T 18894 §四性检测):

- 真实性 authenticity: stored ciphertext does not hash to its CID; the content's SM3
  differs from the registered SM3; the registration entry, inclusion proof,
  checkpoint signature or chain anchor does not verify; two anchored checkpoints are
  inconsistent (the log was rewritten);
- 完整性 completeness: a registered material's content is missing;
- 可用性 usability: the content decrypts but does not open as its declared type;
- 安全性 security: the data key does not unwrap for the custodian or the GCM tag fails.

Custody (``audit_custody``) under the same columns:

- 真实性: a custody row no longer derives the entry that was logged for it, or that
  entry's proof or anchor fails; the custodian the database names is not the one the
  verified custody history leads to, or not the one the contract's custody state names;
  a logged custody transaction is not a successful call of the contract;
- 完整性: the log holds a custody entry of the volume that has no row (a deleted
  record), or a volume has no custody record at all.

Other rows that stand for a log entry (``audit_records``: the read log 利用登记 and a
transfer's events) the same way: 真实性 if a row no longer derives its logged entry or
that entry's proof or anchor fails, 完整性 if the log holds an entry of the kind with
no row.

An audit of some volumes reads their logged entries through the log's subject index
(``SubjectIndex``, ``check_index``) and checks the index, check ``log-index``: 完整性 if
it does not list a row's logged entry, 真实性 if it lists a leaf that is not an entry of
the kind about the subject; a listed leaf without its row counts as logged only once the
log proves it (docs/clients.md, "The log's subject index and its trust rule").

The audit never stops at the first problem: every material is checked and every
problem recorded with the check that found it.

Modules: ``report`` (findings and counts), ``materials``, ``custody``, ``records``
(other logged rows), ``checkpoints`` (the log monitor), ``logged`` (what the audits of
logged rows share) and ``render`` (HTML and the report files).
"""

from notary.audit.checkpoints import audit_checkpoints, cited_checkpoints
from notary.audit.custody import CustodyChain, CustodyItem, VolumeCustody, audit_custody
from notary.audit.logged import INDEX_CHECK, IndexedLeaf, SubjectIndex
from notary.audit.materials import AuditItem, MaterialDetails, audit_materials
from notary.audit.records import RECORD_KINDS, LoggedRecord, LoggedRecords, audit_records
from notary.audit.render import render_html, write_report
from notary.audit.report import (
    AUTHENTICITY,
    COMPLETENESS,
    PROPERTIES,
    PROPERTY_EN,
    SECURITY,
    USABILITY,
    Problem,
    Report,
    new_report,
)

__all__ = [
    "AUTHENTICITY",
    "COMPLETENESS",
    "INDEX_CHECK",
    "PROPERTIES",
    "PROPERTY_EN",
    "RECORD_KINDS",
    "SECURITY",
    "USABILITY",
    "AuditItem",
    "CustodyChain",
    "CustodyItem",
    "IndexedLeaf",
    "LoggedRecord",
    "LoggedRecords",
    "MaterialDetails",
    "Problem",
    "Report",
    "SubjectIndex",
    "VolumeCustody",
    "audit_checkpoints",
    "audit_custody",
    "audit_materials",
    "audit_records",
    "cited_checkpoints",
    "new_report",
    "render_html",
    "write_report",
]
