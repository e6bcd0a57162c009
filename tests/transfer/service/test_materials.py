"""Material metadata: archive order, 类号-顺序号-页码, versions never overwritten."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests._support.api import Cast
from tests.transfer.service import _factories as make


def test_material_shows_designation_and_versions(
    client: TestClient, cast: Cast, db: Session
) -> None:
    vol = make.volume(db, cast.operator.unit_id)
    v1 = make.material(db, vol, category="4-1", seq_no=3, pages=12)
    v2 = make.material(db, vol, category="4-1", seq_no=3, pages=12, supersedes=v1)
    old = client.get(f"/v1/materials/{v1.id}", headers=cast.operator.headers).json()
    new = client.get(f"/v1/materials/{v2.id}", headers=cast.operator.headers).json()
    assert old["designation"] == "4-1-3-12"
    assert old["current"] is False and new["current"] is True
    assert new["supersedes_id"] == str(v1.id) and new["version"] == 2
    assert [v["version"] for v in old["versions"]] == [1, 2]
    assert old["versions"] == new["versions"]
    assert old["sm3"] == v1.sm3  # the old version is still there, unchanged


def test_volume_lists_current_versions_in_archive_order(
    client: TestClient, cast: Cast, db: Session
) -> None:
    vol = make.volume(db, cast.operator.unit_id)
    ten = make.material(db, vol, category="10", seq_no=1)
    late = make.material(db, vol, category="4-1", seq_no=2, formed=date(2001, 1, 1))
    early = make.material(db, vol, category="4-1", seq_no=1, formed=date(1995, 1, 1))
    two = make.material(db, vol, category="2", seq_no=1)
    fixed = make.material(db, vol, category="2", seq_no=1, supersedes=two)
    url = f"/v1/volumes/{vol.id}/materials"
    current = client.get(url, headers=cast.operator.headers).json()
    # 2 before 4-1 before 10 (the standard's order, not string order), then by date.
    assert [m["id"] for m in current] == [str(x.id) for x in (fixed, early, late, ten)]
    everything = client.get(url + "?all_versions=true", headers=cast.operator.headers).json()
    assert [m["id"] for m in everything] == [str(x.id) for x in (two, fixed, early, late, ten)]
    assert [m["current"] for m in everything] == [False, True, True, True, True]


def test_material_of_another_unit_is_404(client: TestClient, cast: Cast, db: Session) -> None:
    vol = make.volume(db, cast.other.unit_id)
    m = make.material(db, vol)
    r = client.get(f"/v1/materials/{m.id}", headers=cast.operator.headers)
    assert r.status_code == 404
    assert client.get(f"/v1/materials/{m.id}", headers=cast.other.headers).status_code == 200


def test_history_is_a_line_not_a_tree(cast: Cast, db: Session) -> None:
    vol = make.volume(db, cast.operator.unit_id)
    v1 = make.material(db, vol)
    make.material(db, vol, supersedes=v1)
    with pytest.raises(IntegrityError):
        make.material(db, vol, supersedes=v1)  # a second correction of the same version
    db.rollback()


def test_unknown_category_is_refused_by_the_database(cast: Cast, db: Session) -> None:
    vol = make.volume(db, cast.operator.unit_id)
    with pytest.raises(IntegrityError):
        make.material(db, vol, category="11")
    db.rollback()
