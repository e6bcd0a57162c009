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


# The receiver's 四性 checks by their id (transfer/workflow/verify.py; docs/transfer-format.md
# §4.3), in words: the console's CHECK_NAME_ZH in console.js is the same table
# (test_vocabulary.py checks). The id stays beside the word wherever a check is named, for
# whoever looks into it.
CHECK_NAME_ZH: dict[str, str] = {
    "manifest": "清单摘要",
    "cid": "内容标识",
    "sm3": "SM3 摘要",
    "log-proof": "存证证明",
    "anchor": "链上锚定",
    "content-sm3": "内容摘要",
    "notice": "通知单",
    "listed": "在清单中",
    "catalogue": "在目录中",
    "present": "材料存在",
    "size": "大小",
    "counts": "份数",
    "extra": "多余文件",
    "payload-oxum": "载荷统计",
    "opens": "可正常打开",
    "key-unwrap": "密钥解封",
    "gcm-tag": "密文完整",
    "dispatch-signature": "转出签名",
    "recipient": "收件单位",
}
CHECK_STATUS_ZH: dict[str, str] = {"pass": "通过", "fail": "不通过", "skipped": "未能检查"}
PROPERTY_ZH: dict[str, str] = {
    "authenticity": "真实性",
    "completeness": "完整性",
    "usability": "可用性",
    "security": "安全性",
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
