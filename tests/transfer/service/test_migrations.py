"""Alembic: migrations build the schema from nothing on both databases, and agree
with the models (the ``alembic check`` of this project)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect, select

from notary.entries import (
    access_event,
    custody_event,
    entry_subject,
    material_read,
    material_registered,
    transfer_event,
)
from tests._support.pg import fresh_pg_database
from transfer.db.migrate import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    schema_diff,
    upgrade,
)
from transfer.db.models import Base, LogSubject, Material, MaterialKey
from transfer.db.session import make_engine, write_sessionmaker
from transfer.services.logwriter import append_entries


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with fresh_pg_database("mig") as url:
            yield url


def test_upgrade_from_empty_reaches_head_and_matches_models(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()
    assert schema_diff(empty_url) == []
    engine = make_engine(empty_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def test_upgrade_twice_is_a_no_op(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()


def test_downgrade_to_nothing_and_back(empty_url: str) -> None:
    upgrade(empty_url)
    downgrade(empty_url, "base")
    engine = make_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(empty_url)
    assert schema_diff(empty_url) == []


def test_concurrent_instances_migrate_once() -> None:
    # Several service instances starting together on one PostgreSQL: the advisory
    # lock makes one migrate and the others find the schema at head.
    with fresh_pg_database("race") as url:
        errors: list[BaseException] = []

        def start() -> None:
            try:
                upgrade(url)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert current_revision(url) == head_revision()


def test_migrations_ship_inside_the_package() -> None:
    # No alembic.ini: the script location is the installed package directory.
    cfg = alembic_config()
    location = Path(cfg.get_main_option("script_location") or "")
    assert (location / "env.py").is_file()
    assert (location / "__init__.py").is_file() and (
        location / "versions" / "__init__.py"
    ).is_file()
    assert any(location.joinpath("versions").glob("0001_*.py"))


def _entry(i: int) -> dict[str, object]:
    """Leaf ``i`` of a log with every kind of entry, a few of each indexed kind."""
    kind = i % 50
    if kind == 0:
        return custody_event(event="registered", volume=f"{i:064x}", to_unit="U", time_ms=i)
    if kind == 1:
        return material_read(material_id=f"m-{i // 100}", unit="U", purpose="审核", time_ms=i)
    if kind == 2:
        return transfer_event(event="create", transfer_id=f"t-{i // 200}", state="created",
                              time_ms=i)  # fmt: skip
    if kind == 3:
        return material_registered(
            material_id=f"m-{i}", sm3_hex="ab" * 32, cid="c", size=1, category="1",
            volume=f"{i:064x}", unit="U", version=1, time_ms=i,
        )  # fmt: skip
    return access_event(action="key.issue", unit="U", actor=None, time_ms=i)


def test_the_log_subject_index_is_backfilled_from_an_existing_log(empty_url: str) -> None:
    # 0010_log_subjects indexes a log written before it, in batches (5,000 leaves each:
    # this log spans two), exactly as the writer indexes each new leaf.
    upgrade(empty_url)
    engine = make_engine(empty_url)
    entries = [_entry(i) for i in range(5_120)]
    query = select(LogSubject.kind, LogSubject.subject, LogSubject.leaf_index).order_by(
        LogSubject.leaf_index
    )
    try:
        with write_sessionmaker(engine)() as s:
            append_entries(s, entries)
            s.commit()
            written = [tuple(r) for r in s.execute(query)]
        expected = [
            (*found, i) for i, e in enumerate(entries) if (found := entry_subject(e)) is not None
        ]
        assert written == expected and len(written) == 3 * 103
        assert {k for k, _, _ in written} == {"custody", "read", "transfer"}
        downgrade(engine, "0009_cadre_names")
        assert "log_subjects" not in inspect(engine).get_table_names()
        upgrade(engine)
        with write_sessionmaker(engine)() as s:
            assert [tuple(r) for r in s.execute(query)] == written
    finally:
        engine.dispose()


# The tables as they are at 0010_log_subjects (digests as hex text), for rows written
# before 0011_digest_bytes; only the columns without a default.
_units = sa.table(
    "units", sa.column("id", sa.Uuid), sa.column("code", sa.String),
    sa.column("name", sa.String), sa.column("kind", sa.String), sa.column("status", sa.String),
    sa.column("created_at", sa.DateTime),
)  # fmt: skip
_volumes = sa.table(
    "volumes", sa.column("id", sa.Uuid), sa.column("cadre_blind_id", sa.String),
    sa.column("kind", sa.String), sa.column("custodian_unit_id", sa.Uuid),
    sa.column("status", sa.String), sa.column("created_at", sa.DateTime),
)  # fmt: skip
_materials = sa.table(
    "materials", *(sa.column(c, sa.Uuid) for c in ("id", "volume_id", "lineage_id",
                                                   "registered_by_unit_id")),
    sa.column("version", sa.Integer), sa.column("category", sa.String),
    sa.column("seq_no", sa.Integer), sa.column("pages", sa.Integer),
    sa.column("title", sa.String), sa.column("formation_date", sa.Date),
    sa.column("sm3", sa.String), sa.column("size", sa.BigInteger),
    sa.column("media_type", sa.String), sa.column("cid", sa.String),
    sa.column("sealed_size", sa.BigInteger), sa.column("created_at", sa.DateTime),
)  # fmt: skip
_keys = sa.table(
    "material_keys", sa.column("material_id", sa.Uuid), sa.column("unit_id", sa.Uuid),
    sa.column("key_fingerprint", sa.String), sa.column("wrapped", sa.LargeBinary),
    sa.column("active", sa.Boolean), sa.column("created_at", sa.DateTime),
)  # fmt: skip
_FINGERPRINT = "5a" * 32


def _rows_at_0010(engine: sa.Engine, digests: list[str]) -> dict[str, str]:
    """A unit, a volume, and a material with one wrapped key per digest, written as the
    code before 0011 wrote them; material id -> digest."""
    now = datetime(2026, 12, 6, tzinfo=UTC).replace(tzinfo=None)
    unit, vol = uuid.uuid4(), uuid.uuid4()
    mids = [uuid.uuid4() for _ in digests]
    with engine.begin() as conn:
        conn.execute(sa.insert(_units).values(id=unit, code="U", name="单位", kind="unit",
                                              status="active", created_at=now))  # fmt: skip
        conn.execute(sa.insert(_volumes).values(id=vol, cadre_blind_id="cd" * 32, kind="main",
                                                custodian_unit_id=unit, status="held",
                                                created_at=now))  # fmt: skip
        conn.execute(sa.insert(_materials), [
            {"id": m, "volume_id": vol, "lineage_id": m, "registered_by_unit_id": unit,
             "version": 1, "category": "1", "seq_no": i + 1, "pages": 1, "title": "履历表",
             "formation_date": date(1990, 7, 1), "sm3": d, "size": 1, "media_type": "a/b",
             "cid": f"bafk{i}", "sealed_size": 17, "created_at": now}
            for i, (m, d) in enumerate(zip(mids, digests, strict=True))
        ])  # fmt: skip
        conn.execute(sa.insert(_keys), [
            {"material_id": m, "unit_id": unit, "key_fingerprint": _FINGERPRINT,
             "wrapped": b"w" * 113, "active": True, "created_at": now} for m in mids
        ])  # fmt: skip
    return {str(m): d for m, d in zip(mids, digests, strict=True)}


def _raw(engine: sa.Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_digests_become_32_bytes_and_come_back_as_hex(empty_url: str) -> None:
    # 0011_digest_bytes converts the rows already there, both ways: lookups by SM3
    # (the verify route's query) find them as bytes, the downgrade gives back the text.
    upgrade(empty_url, "0010_log_subjects")
    engine = make_engine(empty_url)
    try:
        written = _rows_at_0010(engine, [f"{i:02x}" * 32 for i in (0, 0xAB, 0xFF)])
        before = _raw(engine, "SELECT id, sm3 FROM materials ORDER BY seq_no")

        upgrade(engine)
        assert current_revision(engine) == head_revision() == "0012_material_keys_index"
        assert schema_diff(engine) == []
        stored = _raw(engine, "SELECT sm3 FROM materials ORDER BY seq_no")
        assert [bytes(s) for (s,) in stored] == [bytes.fromhex(d) for d in written.values()]
        fps = _raw(engine, "SELECT key_fingerprint FROM material_keys")
        assert {bytes(f) for (f,) in fps} == {bytes.fromhex(_FINGERPRINT)}
        with write_sessionmaker(engine)() as s:
            for mid, digest in written.items():
                found = s.scalars(select(Material).where(Material.sm3.in_([digest]))).all()
                assert [(str(m.id), m.sm3) for m in found] == [(mid, digest)]
                key = s.scalars(select(MaterialKey).where(MaterialKey.material_id == found[0].id))
                assert [k.key_fingerprint for k in key] == [_FINGERPRINT]
        if engine.dialect.name == "sqlite":
            # The migration switched enforcement off for batch mode; it is back on.
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

        downgrade(engine, "0010_log_subjects")
        assert current_revision(engine) == "0010_log_subjects"
        assert _raw(engine, "SELECT id, sm3 FROM materials ORDER BY seq_no") == before
        assert _raw(engine, "SELECT DISTINCT key_fingerprint FROM material_keys") == [
            (_FINGERPRINT,)
        ]
    finally:
        engine.dispose()


@pytest.mark.parametrize("bad", ["not an sm3 digest", "zz" * 32], ids=["short", "not-hex"])
def test_the_digest_migration_refuses_a_stored_value_that_is_not_hex(
    empty_url: str, bad: str
) -> None:
    upgrade(empty_url, "0010_log_subjects")
    engine = make_engine(empty_url)
    try:
        _rows_at_0010(engine, ["ab" * 32, bad])
        # PostgreSQL's decode() names a non-hex digit itself.
        with pytest.raises(Exception, match=r"not an SM3 digest|invalid hexadecimal digit"):
            upgrade(engine)
        assert current_revision(engine) == "0010_log_subjects"
        assert len(_raw(engine, "SELECT sm3 FROM materials WHERE sm3 = '" + "ab" * 32 + "'")) == 1
    finally:
        engine.dispose()


def test_a_sqlite_migration_leaving_a_dangling_foreign_key_is_rolled_back(
    tmp_path: Path,
) -> None:
    # Foreign keys are off while SQLite migrations recreate tables; the check at the end
    # stands in for them: a wrapped key whose material is gone fails the whole run.
    url = f"sqlite:///{tmp_path / 'fk.db'}"
    upgrade(url, "0010_log_subjects")
    engine = make_engine(url)
    try:
        written = _rows_at_0010(engine, ["ab" * 32])
        with contextlib.closing(sqlite3.connect(tmp_path / "fk.db")) as raw:
            raw.execute("DELETE FROM materials")  # sqlite3 leaves foreign keys off
            raw.commit()
        with pytest.raises(RuntimeError, match="foreign keys point nowhere"):
            upgrade(engine)
        assert current_revision(engine) == "0010_log_subjects"
        assert _raw(engine, "SELECT key_fingerprint FROM material_keys") == [(_FINGERPRINT,)]
        assert written
    finally:
        engine.dispose()


def test_a_materials_keys_are_found_through_the_unique_index_once_its_twin_is_dropped(
    empty_url: str,
) -> None:
    # 0012 drops ix_material_keys_material_id: the unique (material_id, unit_id,
    # key_fingerprint) index starts with the same column and serves the same lookups.
    upgrade(empty_url)
    engine = make_engine(empty_url)
    query = f"SELECT wrapped FROM material_keys WHERE material_id = '{uuid.uuid4().hex}'"
    try:
        assert "ix_material_keys_material_id" not in _index_names(engine)
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: force the choice
                plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {query}"))
                assert "uq_material_keys_material_id_unit_id_key_fingerprint" in plan
            else:
                plan = " ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
                assert "USING INDEX" in plan and "material_id=?" in plan
        downgrade(engine, "0011_digest_bytes")
        assert "ix_material_keys_material_id" in _index_names(engine)
    finally:
        engine.dispose()


def _index_names(engine: sa.Engine) -> set[str]:
    return {str(ix["name"]) for ix in inspect(engine).get_indexes("material_keys")}
