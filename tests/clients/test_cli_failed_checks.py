"""A failed 四性 verification names each check that did not pass: in words for the clerk
and by check id with the service's detail for the developer (the CLI's stderr and the
service's log), so that one failure — a flaky run too — can be diagnosed from its output."""

from __future__ import annotations

import logging

import pytest

from clients.commands.transfer import failed_checks_zh, print_failed_checks
from transfer.services import transfer_receive
from transfer.workflow.results import (
    Check,
    MaterialResult,
    Property,
    Status,
    VerificationReport,
)

A, C, S = Property.AUTHENTICITY, Property.COMPLETENESS, Property.SECURITY


def _report() -> VerificationReport:
    good = MaterialResult(
        "m-1", (Check(A, "manifest", Status.PASS), Check(C, "present", Status.PASS))
    )
    skipped = MaterialResult(
        "m-2",
        (
            Check(A, "log-proof", Status.PASS),
            Check(A, "anchor", Status.SKIPPED, "chain unavailable: ChainUnavailable: timed out"),
        ),
    )
    return VerificationReport(
        "t-1",
        b"\x00" * 32,
        (good, skipped),
        (
            Check(S, "dispatch-signature", Status.FAIL, "ForgedSignature: altered"),
            Check(C, "counts", Status.PASS, "2 materials"),
        ),
    )


def test_each_check_that_did_not_pass_is_one_line_in_words_and_by_id() -> None:
    lines = failed_checks_zh(_report().to_json())
    assert lines == [
        "整体：安全性「转出签名」不通过（检测项 dispatch-signature：ForgedSignature: altered）",
        "材料 m-2：真实性「链上锚定」未能检查"
        "（检测项 anchor：chain unavailable: ChainUnavailable: timed out）",
    ]


def test_stderr_lists_them_and_says_an_anchor_may_be_checked_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_failed_checks({"accepted": False, "results": _report().to_json()}, "t-1")
    err = capsys.readouterr().err
    assert "四性检测未通过的检测项（2 项）" in err
    assert "检测项 anchor：chain unavailable" in err
    assert "可稍后再运行 notary transfer verify t-1" in err


def test_the_service_logs_the_failed_checks_by_id() -> None:
    text = transfer_receive.failed_checks(_report())
    assert text == (
        "整体 security.dispatch-signature fail: ForgedSignature: altered; "
        "m-2 authenticity.anchor skipped: chain unavailable: ChainUnavailable: timed out"
    )
    assert transfer_receive.failed_checks(_report(), limit=1).endswith("; … 1 more")
    assert logging.getLogger(transfer_receive.__name__).name == "transfer.services.transfer_receive"
