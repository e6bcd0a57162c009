"""``notary read-grant``: a reader applies, the holding unit's clerk approves, lists and
revokes, the auditor lists everything — through the real service."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests._support.served import Service, new_volume


def _reader_key(service: Service) -> str:
    """A reader key of UNIT-B: issued by the system administrator, approved by the
    security administrator (三员分立), over the API."""
    admin = {"Authorization": f"Bearer {service.admin_key}"}
    security = {"Authorization": f"Bearer {service.security_key}"}
    with httpx.Client(base_url=service.url, timeout=30) as c:
        units = c.get("/v1/units", headers=admin).json()["items"]
        (unit,) = [u for u in units if u["code"] == "UNIT-B"]
        r = c.post(f"/v1/units/{unit['id']}/keys", json={"role": "reader"}, headers=admin)
        assert r.status_code == 201, r.text
        key = r.json()
        r = c.post(f"/v1/units/{unit['id']}/keys/{key['id']}/approve", headers=security)
        assert r.status_code == 200, r.text
    return str(key["key"])


def test_apply_approve_list_revoke(service: Service, cli: Any) -> None:
    volume = new_volume(service)
    reader = {"NOTARY_URL": service.url, "NOTARY_API_KEY": _reader_key(service)}
    clerk = {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys["UNIT-A"]}
    other = {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.keys["UNIT-B"]}
    auditor = {"NOTARY_URL": service.url, "NOTARY_API_KEY": service.audit_key}

    r = cli("read-grant", "apply", "--volume", volume, "--category", "1", "--category",
            "4-1", "--purpose", "干部任前审核", "--days", "3", env=reader)  # fmt: skip
    assert r.code == 0, r.err
    assert "查阅申请已提交" in r.out and "UNIT-A" in r.out
    grant = r.out.split("查阅申请已提交：", 1)[1].split("，", 1)[0]

    r = cli("read-grant", "list", env=clerk)
    assert r.code == 0 and grant in r.out and "待审批" in r.out and "第 1 类、第 4-1 类" in r.out
    # Another unit's clerk may not decide; the refusal is one line, in Chinese.
    r = cli("read-grant", "approve", grant, env=other)
    assert r.code == 1 and "保管" in r.err and r.err.count("\n") == 1
    r = cli("read-grant", "approve", grant, env=clerk)
    assert r.code == 0 and "有效" in r.out, r.err
    r = cli("read-grant", "list", "--state", "approved", "--json", env=reader)
    assert [g["id"] for g in json.loads(r.out)] == [grant]
    r = cli("read-grant", "revoke", grant, env=clerk)
    assert r.code == 0 and "已撤销" in r.out
    r = cli("read-grant", "list", "--json", env=auditor)
    assert grant in {g["id"] for g in json.loads(r.out)}

    r = cli("read-grant", "apply", "--volume", volume, "--category", "1", "--purpose", "x",
            "--until", "明天", env=reader)  # fmt: skip
    assert r.code == 2 and "--until" in r.err
    r = cli("read-grant", "list", "--state", "valid", env=reader)
    assert r.code == 2 and "--state" in r.err
