"""The one-file package (tar) for offline delivery: deterministic out, nothing unsafe in."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary.canonical import canonical_json
from tests._support.transfer_package import Built, Parties, build
from transfer.workflow.archive import export_tar, extract_tar, import_tar, write_tar
from transfer.workflow.errors import LimitExceeded, PackageError, UnsafePath
from transfer.workflow.package import Limits, PackageMaterial


@pytest.fixture
def built(tmp_path: Path, parties: Parties) -> Built:
    return build(tmp_path, parties)


def _export(built: Built) -> bytes:
    out = io.BytesIO()
    export_tar(built.path, out, top_dir="transfer-tr-0001")
    return out.getvalue()


def test_round_trip_and_determinism(built: Built, tmp_path: Path) -> None:
    data = _export(built)
    assert data == _export(built)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    bag = import_tar(io.BytesIO(data), tmp_path / "in", expected_root=built.written.package_root)
    bag.validate()
    assert bag.path == tmp_path / "in" / "transfer-tr-0001"
    assert bag.notice == built.notice


def test_gzip_tar_is_accepted(built: Built, tmp_path: Path) -> None:
    bag = import_tar(io.BytesIO(gzip.compress(_export(built))), tmp_path / "in")
    bag.validate()


def _tar(add: Callable[[tarfile.TarFile], object]) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        add(tar)
    out.seek(0)
    return out


def _file(tar: tarfile.TarFile, name: str, data: bytes = b"x", **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for k, v in attrs.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(data))
    return info


@pytest.mark.parametrize(
    "name", ["../x", "bag/../../x", "/etc/passwd", "~/x", "bag/~root/x", "bag\\..\\x", "bag//x"]
)
def test_unsafe_member_names_are_refused(tmp_path: Path, name: str) -> None:
    source = _tar(lambda t: _file(t, name))
    with pytest.raises(UnsafePath) as e:
        extract_tar(source, tmp_path / "in")
    assert e.value.path
    assert not (tmp_path / "x").exists()
    assert not any((tmp_path / "in").rglob("x"))


@pytest.mark.parametrize(
    ("kind", "linkname"),
    [
        (tarfile.SYMTYPE, "/etc/passwd"),
        (tarfile.LNKTYPE, "bag/a"),
        (tarfile.CHRTYPE, ""),
        (tarfile.BLKTYPE, ""),
        (tarfile.FIFOTYPE, ""),
    ],
)
def test_links_and_devices_are_refused(tmp_path: Path, kind: bytes, linkname: str) -> None:
    def add(t: tarfile.TarFile) -> None:
        _file(t, "bag/a")
        info = tarfile.TarInfo("bag/data/link")
        info.type = kind
        info.linkname = linkname
        t.addfile(info)

    with pytest.raises(UnsafePath, match="not accepted") as e:
        extract_tar(_tar(add), tmp_path / "in")
    assert e.value.path == "bag/data/link"


def test_duplicate_and_case_colliding_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePath, match="twice"):
        extract_tar(_tar(lambda t: (_file(t, "bag/a"), _file(t, "bag/a"))), tmp_path / "1")
    with pytest.raises(UnsafePath, match="twice"):
        extract_tar(_tar(lambda t: (_file(t, "bag/A"), _file(t, "bag/a"))), tmp_path / "2")


def test_second_top_level_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePath, match="second top-level"):
        extract_tar(_tar(lambda t: (_file(t, "bag/a"), _file(t, "other/b"))), tmp_path / "in")


def test_huge_declared_size_is_refused_before_reading(tmp_path: Path) -> None:
    # A header declaring 1 TiB with no data behind it.
    info = tarfile.TarInfo("bag/data/huge")
    info.size = 1 << 40
    raw = io.BytesIO(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024)
    with pytest.raises(LimitExceeded, match="per-file limit") as e:
        extract_tar(raw, tmp_path / "in")
    assert e.value.path == "bag/data/huge"


def test_total_size_limit(tmp_path: Path) -> None:
    source = _tar(lambda t: [_file(t, f"bag/f{i}", b"y" * 1000) for i in range(5)])
    with pytest.raises(LimitExceeded, match="would exceed"):
        extract_tar(source, tmp_path / "in", limits=Limits(max_total_bytes=3000))


def test_member_count_limit(tmp_path: Path) -> None:
    source = _tar(lambda t: [_file(t, f"bag/f{i}") for i in range(50)])
    with pytest.raises(LimitExceeded, match="more than 20 members"):
        extract_tar(source, tmp_path / "in", limits=Limits(max_members=20))


def test_compression_bomb_is_stopped_by_the_ratio(tmp_path: Path) -> None:
    bomb = gzip.compress(_tar(lambda t: _file(t, "bag/zeros", b"\0" * (8 << 20))).getvalue())
    assert len(bomb) < 100_000
    limits = Limits(max_ratio=10, ratio_floor_bytes=1 << 20)
    with pytest.raises(LimitExceeded, match="compression bomb"):
        extract_tar(io.BytesIO(bomb), tmp_path / "in", limits=limits)


@pytest.mark.parametrize("keep", [0.5, 0.8, 0.85])
def test_truncated_tar_is_refused(built: Built, tmp_path: Path, keep: float) -> None:
    # Cut inside a member: the tar reader fails; cut on a member boundary: the bag lacks
    # files. Either way import refuses it.
    data = _export(built)
    with pytest.raises(PackageError):
        import_tar(io.BytesIO(data[: int(len(data) * keep)]), tmp_path / "in")


def test_empty_and_garbage_inputs(tmp_path: Path) -> None:
    with pytest.raises(PackageError):
        extract_tar(io.BytesIO(b""), tmp_path / "a")
    with pytest.raises(PackageError):
        extract_tar(io.BytesIO(b"not a tar" * 100), tmp_path / "b")


@pytest.fixture(scope="module")
def valid_tar(tmp_path_factory: pytest.TempPathFactory, parties: Parties) -> bytes:
    built = build(tmp_path_factory.mktemp("fuzz"), parties)
    return _export(built)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_tars_only_raise_typed_errors(
    valid_tar: bytes, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    from transfer.workflow.errors import TransferError

    buf = bytearray(valid_tar)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        buf = buf[: data.draw(st.integers(0, len(buf)))]
    dest = tmp_path_factory.mktemp("m") / "in"
    try:
        bag = import_tar(io.BytesIO(bytes(buf)), dest)
        bag.payload_report()
    except TransferError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=3000))
def test_random_bytes_only_raise_typed_errors(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    with pytest.raises(PackageError):
        import_tar(io.BytesIO(raw), tmp_path_factory.mktemp("r") / "in")


class _OnlyReads:
    """A stream that cannot seek or tell, like a socket or the content store's blocks."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, n: int = -1, /) -> bytes:
        return self._data.read(min(n, 7000) if n >= 0 else n)  # short reads, too


def test_import_from_a_stream_that_cannot_seek(built: Built, tmp_path: Path) -> None:
    data = _export(built)
    bag = import_tar(_OnlyReads(data), tmp_path / "a", expected_root=built.written.package_root)
    bag.validate()
    bag = import_tar(_OnlyReads(gzip.compress(data)), tmp_path / "b")
    bag.validate()


def test_export_writes_what_a_tar_stream_writer_writes(built: Built) -> None:
    # Any tar writer gives the same bytes for the same members: the export format does
    # not depend on how the writer buffers.
    data = _export(built)
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data)) as src,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.USTAR_FORMAT) as dst,
    ):
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    assert out.getvalue() == data


def _package(built: Built) -> list[PackageMaterial]:
    by_id = {m.material_id: m for m in built.materials}
    return [
        PackageMaterial(
            e,
            iter([by_id[e.material_id].sealed[:100], by_id[e.material_id].sealed[100:]]),
            canonical_json(built.evidence[e.material_id].to_json()) if e.evidence else None,
        )
        for e in built.envelope.materials
    ]


def test_a_bag_written_straight_into_a_tar_is_the_exported_bag(built: Built) -> None:
    out = io.BytesIO()
    root, octets, files = write_tar(
        out, "transfer-tr-0001", built.notice, built.envelope, _package(built),
        bagging_date=date(2025, 3, 2),
    )  # fmt: skip
    assert out.getvalue() == _export(built)
    assert (root, octets, files) == (
        built.written.package_root, built.written.payload_octets, built.written.payload_files,
    )  # fmt: skip


def test_a_sealed_size_other_than_declared_is_refused(built: Built) -> None:
    package = _package(built)
    package[1] = replace(package[1], sealed=iter([b"short"]))
    with pytest.raises(PackageError, match="envelope says"):
        write_tar(
            io.BytesIO(), "t", built.notice, built.envelope, package,
            bagging_date=date(2025, 3, 2),
        )  # fmt: skip
    package = _package(built)
    package[2] = replace(package[2], sealed=iter([built.materials[2].sealed, b"more"]))
    with pytest.raises(PackageError, match="envelope says"):
        write_tar(
            io.BytesIO(), "t", built.notice, built.envelope, package,
            bagging_date=date(2025, 3, 2),
        )  # fmt: skip
