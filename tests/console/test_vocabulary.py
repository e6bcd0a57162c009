"""One vocabulary of transfer states: the CLI (clients/vocabulary.py), the console
(console.js) and the printed forms say the same word for the same state."""

from __future__ import annotations

import re
from pathlib import Path

from clients.vocabulary import (
    CHAIN_OUTCOME_ZH,
    CHECK_NAME_ZH,
    CHECK_STATUS_ZH,
    FIELD_ZH,
    PROPERTY_ZH,
    TRANSFER_STATE_ZH,
    problem_detail_zh,
)
from tests.console._server import Server
from transfer.services.forms import STATE_ZH as FORMS_STATE_ZH
from transfer.workflow.state import State

CONSOLE_JS = Path(__file__).resolve().parents[2] / "clients" / "console" / "console.js"


def _js_table(name: str) -> dict[str, str]:
    text = CONSOLE_JS.read_text("utf-8")
    body = re.search(rf"export const {name} = \{{(.*?)\n\}};", text, re.S)
    assert body, f"{name} not found in console.js"
    # Keys bare (state) or quoted ("log-proof").
    pairs = re.findall(r'^\s*"?([\w-]+)"?: "([^"]*)",?$', body.group(1), re.M)
    return dict(pairs)


def test_every_state_has_one_word_everywhere() -> None:
    assert set(TRANSFER_STATE_ZH) == {s.value for s in State}
    assert {s.value: s.zh for s in State} == TRANSFER_STATE_ZH  # the service's refusals
    assert _js_table("STATE_ZH") == TRANSFER_STATE_ZH
    assert FORMS_STATE_ZH == TRANSFER_STATE_ZH
    assert _js_table("CHAIN_OUTCOME_ZH") == CHAIN_OUTCOME_ZH


def test_no_two_states_share_a_word() -> None:
    words = list(TRANSFER_STATE_ZH.values())
    assert len(set(words)) == len(words)
    # The receiver's refusal and the sender's taking back are different words.
    assert TRANSFER_STATE_ZH["rejected"] == "已拒收"
    assert TRANSFER_STATE_ZH["returned"] == "已退回"


def test_the_state_filter_of_the_transfer_lists_uses_the_same_words() -> None:
    html = (CONSOLE_JS.parent / "transfers.html").read_text("utf-8")
    options = dict(re.findall(r'<option value="(\w+)">([^<]+)</option>', html))
    assert options == TRANSFER_STATE_ZH


def test_the_console_offers_the_same_manifest_template_as_the_cli(server: Server) -> None:
    import httpx

    from clients.manifest import template

    r = httpx.get(server.url("/console/manifest-template.csv"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content == template().encode("utf-8-sig")
    page = httpx.get(server.url("/console/ingest.html")).text
    assert 'href="manifest-template.csv"' in page


def test_field_names_of_validation_problems_agree_and_read_in_chinese() -> None:
    assert _js_table("FIELD_ZH") == FIELD_ZH
    problem = {
        "detail": "2 field(s) are invalid",
        "errors": [
            {"loc": ["body", "transfer_no"], "msg": "too long"},
            {"loc": ["body", "receiver"], "msg": "bad"},
        ],
    }
    assert problem_detail_zh(problem, "2 field(s) are invalid") == (
        "填写有误，请检查：转递编号、接收单位代码"
    )
    assert problem_detail_zh({}, "接收单位 X 未登记") == "接收单位 X 未登记"
    assert problem_detail_zh({}, "no such thing") == "（服务原文：no such thing）"


def test_the_cli_names_the_four_property_checks_as_the_console_does() -> None:
    assert _js_table("CHECK_NAME_ZH") == CHECK_NAME_ZH
    text = CONSOLE_JS.read_text("utf-8")
    line = re.search(r"export const CHECK_ZH = \{(.*?)\};", text)
    assert line
    assert dict(re.findall(r'(\w+): "([^"]*)"', line.group(1))) == CHECK_STATUS_ZH
    properties = re.search(r"export const PROPERTIES = \[(.*?)\];", text, re.S)
    assert properties
    assert dict(re.findall(r'\["(\w+)", "([^"]*)"\]', properties.group(1))) == PROPERTY_ZH
