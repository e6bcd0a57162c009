"""Field types of the API's inputs, with the rules of the formats that will carry them.

A value accepted here must never fail later, when it is written into a transfer
notice, a bag's tag files or an act (``transfer/workflow``): a unit code is an
identifier (``IDENT``: it names files in a bag), a name or title is single-line text
without control characters (it lands in ``bag-info.txt`` lines), within the format's
length. The rules are the workflow's own (``transfer/workflow/_fields.py``), checked
with ``fullmatch`` (``$`` would accept a trailing newline).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from transfer.cadre_names import normalise_cadre_name
from transfer.workflow._fields import CONTROL, IDENT


def _identifier(value: str) -> str:
    if not IDENT.fullmatch(value):
        raise ValueError("须为 1–64 个字符（A-Z a-z 0-9 . _ -），以字母或数字开头")
    return value


def _single_line(value: str) -> str:
    if CONTROL.search(value):
        raise ValueError("不能含换行符或其他控制字符")
    return value


#: An identifier (a transfer id, a unit code), as notices and acts carry it.
Identifier = Annotated[
    str,
    # The pattern documents the rule in the OpenAPI schema; the validator enforces it.
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
    AfterValidator(_identifier),
]
#: A unit's code (单位代码).
UnitCode = Identifier


#: A unit's name (notice: ``text``, 200).
UnitName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_single_line),
]
#: A material's title (envelope: ``text``, 500).
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_single_line),
]
#: Other single-line text of at most 200 characters (labels).
Label = UnitName
#: A transfer's number (notice: ``text``, 64).
TransferNo = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_single_line),
]
#: A transfer's reason (notice: ``text``, 500).
ReasonText = Title
#: A rejection reason's code (act: ``text``, 100).
ReasonCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_single_line),
]
#: A cadre's 姓名, normalised (transfer/cadre_names.py: NFKC, no whitespace, letters of
#: any script with "·" or "-" between parts). The raw bound keeps NFKC's work small.
CadreName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    AfterValidator(normalise_cadre_name),
]
