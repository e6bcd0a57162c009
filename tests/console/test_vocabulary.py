"""One vocabulary of transfer states: the CLI (clients/vocabulary.py), the console
(console.js) and the printed forms say the same word for the same state."""

from __future__ import annotations

import re
from pathlib import Path

from clients.vocabulary import CHAIN_OUTCOME_ZH, TRANSFER_STATE_ZH
from tests.console.conftest import Server
from transfer.services.forms import STATE_ZH as FORMS_STATE_ZH
from transfer.workflow.state import State

CONSOLE_JS = Path(__file__).resolve().parents[2] / "clients" / "console" / "console.js"


def _js_table(name: str) -> dict[str, str]:
    text = CONSOLE_JS.read_text("utf-8")
    body = re.search(rf"export const {name} = \{{(.*?)\n\}};", text, re.S)
    assert body, f"{name} not found in console.js"
    return dict(re.findall(r'^\s*(\w+): "([^"]*)",?$', body.group(1), re.M))


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
