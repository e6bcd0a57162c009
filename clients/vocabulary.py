"""The words staff read for transfer states and chain outcomes: one table for the CLI,
the same table in the console (clients/console/console.js ``STATE_ZH``) and in the
printed forms (transfer/services/forms.py); tests/console/test_vocabulary.py checks
that all three agree.

rejected is the receiver's act (拒收, custody stays with the sender); returned is the
end of the road for the sender (退回: taken back after a rejection, or recalled after a
deadline), from where it may be sent again as a new transfer.
"""

from __future__ import annotations

from transfer.services.problems_zh import FIELD_ZH as SERVICE_FIELD_ZH

TRANSFER_STATE_ZH: dict[str, str] = {
    "created": "已创建",
    "packaged": "已打包",
    "dispatched": "已转出",
    "delivered": "已送达",
    "verified": "已检测",
    "received": "已签收",
    "rejected": "已拒收",
    "returned": "已退回",
}

# A dispatch's outcome as the contract records it (per volume on chain).
CHAIN_OUTCOME_ZH: dict[str, str] = {
    "pending": "待答复",
    "received": TRANSFER_STATE_ZH["received"],
    "rejected": TRANSFER_STATE_ZH["rejected"],
    "returned": TRANSFER_STATE_ZH["returned"],
    "recalled": "已撤回",
}


def state_zh(state: object) -> str:
    """The state in words; an unknown state as it is (never hidden)."""
    return TRANSFER_STATE_ZH.get(str(state), str(state))


# Fields of the API's request bodies as staff call them: the service's own table (its
# 422 problems name fields so); the console's FIELD_ZH in console.js is the same table
# (test_vocabulary.py checks).
FIELD_ZH: dict[str, str] = SERVICE_FIELD_ZH


def problem_detail_zh(problem: dict[str, object], detail: str) -> str:
    """A problem's detail for a clerk: a validation problem names its fields in Chinese;
    a Chinese detail is kept; an English one is quoted as the service's wording."""
    errors = problem.get("errors")
    if isinstance(errors, list) and errors and any("\u4e00" <= ch <= "\u9fff" for ch in detail):
        return detail  # the service names each field and what is wrong with it
    if isinstance(errors, list) and errors:
        names: list[str] = []
        for e in errors:
            loc = e.get("loc") if isinstance(e, dict) else None
            parts = [x for x in loc if isinstance(x, str) and x != "body"] if loc else []
            name = FIELD_ZH.get(parts[-1], "某一项") if parts else "某一项"
            if name not in names:
                names.append(name)
        return f"填写有误，请检查：{'、'.join(names)}"
    if any("\u4e00" <= ch <= "\u9fff" for ch in detail):
        return detail
    return f"（服务原文：{detail}）" if detail else ""
