"""``notary ingest DIR --volume ID --manifest CSV``: register a directory of materials.

The manifest is UTF-8 CSV with a header: ``file, category, title, formation_date,
pages`` and optionally ``seq_no`` (顺序号; when absent or empty, numbered per category
after the volume's existing materials, in manifest order). A row that fails (a missing
file, a bad value, a refusal by the service) is listed in the summary; the batch goes on.
"""

from __future__ import annotations

import csv
import datetime as dt
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table

from clients.commands._common import (
    DEFAULT_URL,
    JsonOpt,
    KeyOpt,
    UrlOpt,
    client,
    err,
    out,
    print_json,
)
from clients.errors import UserError
from clients.sdk import NotaryAPIError, NotaryClientError
from notary.entries import CATEGORIES

REQUIRED = ("file", "category", "title", "formation_date", "pages")
OPTIONAL = ("seq_no",)


@dataclass
class Row:
    line: int
    file: str
    category: str = ""
    title: str = ""
    formation_date: str = ""
    pages: int = 0
    seq_no: int | None = None
    error: str = ""


@dataclass
class Outcome:
    ok: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0


def _positive(value: str, name: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{name} 须为正整数：{value!r}") from None
    if n < 1:
        raise ValueError(f"{name} 须为正整数：{value!r}")
    return n


def _date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"formation_date 须为 YYYY-MM-DD：{value!r}") from None


def read_manifest(path: Path) -> list[Row]:
    """Parse the manifest; a structural problem is a UserError, a bad row is kept with
    its error (reported, not fatal)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"清单文件不存在：{path}") from None
    except UnicodeDecodeError:
        raise UserError(f"清单须为 UTF-8 编码的 CSV：{path}") from None
    except OSError as e:
        raise UserError(f"无法读取清单 {path}：{e.strerror or e}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise UserError(
            f"清单格式错误：缺少列 {', '.join(missing)}（须有 {', '.join(REQUIRED)}[, seq_no]）"
        )
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise UserError(f"清单格式错误：未知的列 {', '.join(unknown)}")
    rows: list[Row] = []
    for raw in reader:
        values = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        row = Row(line=reader.line_num, file=values.get("file", ""))
        if None in raw:
            row.error = "列数多于表头"
            rows.append(row)
            continue
        try:
            if not row.file:
                raise ValueError("file 为空")
            row.category = values["category"]
            if row.category not in CATEGORIES:
                raise ValueError(f"类号 {row.category!r} 不属于十大类")
            row.title = values["title"]
            if not row.title:
                raise ValueError("title 为空")
            row.formation_date = _date(values["formation_date"])
            row.pages = _positive(values["pages"], "pages")
            if values.get("seq_no"):
                row.seq_no = _positive(values["seq_no"], "seq_no")
        except ValueError as e:
            row.error = str(e)
        rows.append(row)
    if not rows:
        raise UserError(f"清单为空：{path}")
    return rows


def _number(rows: list[Row], existing: list[dict[str, Any]]) -> None:
    """Assign 顺序号 to rows without one: next per category after the volume's own."""
    last: dict[str, int] = {}
    for m in existing:
        last[m["category"]] = max(last.get(m["category"], 0), int(m["seq_no"]))
    for r in rows:
        if r.error:
            continue
        if r.seq_no is None:
            r.seq_no = last.get(r.category, 0) + 1
        last[r.category] = max(last.get(r.category, 0), r.seq_no)


def _safe_file(directory: Path, name: str) -> Path:
    path = (directory / name).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise ValueError(f"文件不在目录 {directory} 内：{name}")
    if not path.is_file():
        raise ValueError(f"文件不存在：{name}")
    return path


def ingest(
    directory: Annotated[Path, typer.Argument(help="材料所在目录。")],
    volume: Annotated[str, typer.Option("--volume", help="案卷 ID。")],
    manifest: Annotated[
        Path,
        typer.Option(
            "--manifest",
            help="CSV 清单：file, category, title, formation_date, pages[, seq_no]。",
        ),
    ],
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=16, help="并发上传数（默认 4）。")] = 4,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """按 CSV 清单把目录中的材料登记入卷（进度条 + 汇总；失败的行列出，批次不中断）。"""
    if not directory.is_dir():
        raise UserError(f"目录不存在：{directory}")
    rows = read_manifest(manifest)
    result = Outcome()
    with client(url, key) as c:
        existing = c.volume_materials(volume)  # also checks the volume and the key first
        paths = _resolve(directory, rows)
        _number(rows, existing)
        progress = Progress(
            TextColumn("[bold]登记材料"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[current]}"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        with progress, ThreadPoolExecutor(jobs) as pool:
            task = progress.add_task("ingest", total=len(rows), current="")
            futures = [pool.submit(_one, c, paths.get(r.line), volume, r) for r in rows]
            try:
                for fut in as_completed(futures):
                    done, record = fut.result()
                    (result.ok if done else result.failed).append(record)
                    progress.update(task, advance=1, current=record["file"])
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    result.ok.sort(key=lambda m: int(m["line"]))
    result.failed.sort(key=lambda m: int(m["line"]))
    result.bytes = sum(int(m["size"]) for m in result.ok)
    _summary(result, len(rows), as_json)
    if result.failed:
        raise typer.Exit(1)


def _resolve(directory: Path, rows: list[Row]) -> dict[int, Path]:
    """The file of every valid row; a missing one marks the row failed (before numbering,
    so that it takes no 顺序号)."""
    paths: dict[int, Path] = {}
    for r in rows:
        if r.error:
            continue
        try:
            paths[r.line] = _safe_file(directory, r.file)
        except ValueError as e:
            r.error = str(e)
    return paths


def _one(c: Any, path: Path | None, volume: str, r: Row) -> tuple[bool, dict[str, Any]]:
    """Upload one row: (True, the registered material) or (False, why it failed)."""

    def fail(reason: str) -> tuple[bool, dict[str, Any]]:
        return False, {"line": r.line, "file": r.file, "reason": reason}

    if r.error or path is None:
        return fail(r.error)
    assert r.seq_no is not None
    try:
        up = c.upload_material(
            volume,
            path,
            category=r.category,
            seq_no=r.seq_no,
            pages=r.pages,
            title=r.title,
            formation_date=r.formation_date,
        )
    except NotaryAPIError as e:
        if e.status in (401, 403):
            raise  # every other row would fail the same way
        return fail(e.detail or e.title or f"HTTP {e.status}")
    except NotaryClientError as e:
        return fail(str(e))
    m = up.material
    return True, (
        {
            "line": r.line,
            "file": r.file,
            "material_id": str(m["id"]),
            "designation": f"{r.category}-{r.seq_no}-{r.pages}",
            "sm3": up.sm3,
            "leaf_index": m["leaf_index"],
            "media_type": m["media_type"],
            "size": int(m["size"]),
        }
    )


def _summary(result: Outcome, total: int, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "total": total,
                "registered": len(result.ok),
                "failed": len(result.failed),
                "bytes": result.bytes,
                "materials": result.ok,
                "failures": result.failed,
            }
        )
        return
    out.print(
        f"登记完成：共 {total} 行，成功 {len(result.ok)}，失败 {len(result.failed)}，"
        f"{result.bytes:,} 字节"
    )
    if result.ok:
        t = Table(
            "行",
            "文件",
            "类号-顺序号-页码",
            Column("材料 ID", no_wrap=True),
            "日志序号",
            title="已登记",
        )
        for m in result.ok:
            t.add_row(
                str(m["line"]), m["file"], m["designation"], m["material_id"], str(m["leaf_index"])
            )
        out.print(t)
    if result.failed:
        t = Table("行", "文件", "原因", title="失败")
        for f in result.failed:
            t.add_row(str(f["line"]), f["file"], f["reason"])
        out.print(t)
