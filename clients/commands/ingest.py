"""``notary ingest DIR --volume ID --manifest CSV``: register a directory of materials.

The manifest is a CSV with a header: ``file, category, title, formation_date, pages``
and optionally ``seq_no`` (顺序号; when absent or empty, numbered per category after the
volume's existing materials, in manifest order) — or the same columns in Chinese (文件,
类号, 题名, 形成日期, 页数, 顺序号), in UTF-8, GBK/GB18030 or UTF-16, detected
(clients/manifest.py). ``notary ingest --template FILE`` writes a template. A row that
fails (a missing file, a bad value, a refusal by the service) is listed in the summary;
the batch goes on. A file whose SM3 is already in the volume (a corrected manifest run
again) is not registered twice: it is listed as skipped, unless ``--allow-duplicates``.
"""

from __future__ import annotations

import csv
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
from clients.manifest import ManifestError, columns, decode, delimiter, parse_date, template
from clients.sdk import NotaryAPIError, NotaryClientError
from notary.crypto.sm3 import sm3_file
from notary.entries import CATEGORIES


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
    skipped: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0


def _positive(value: str, name: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{name}须为正整数：{value!r}") from None
    if n < 1:
        raise ValueError(f"{name}须为正整数：{value!r}")
    return n


def read_manifest(path: Path) -> list[Row]:
    """Parse the manifest; a structural problem is a UserError, a bad row is kept with
    its error (reported, not fatal)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"清单文件不存在：{path}") from None
    except OSError as e:
        raise UserError(f"无法读取清单 {path}：{e.strerror or e}") from None
    try:
        text, _ = decode(data)
        lines = text.splitlines()
        reader = csv.reader(lines, delimiter=delimiter(lines[0] if lines else ""))
        header = next(reader, [])
        if not any(h.strip() for h in header):
            raise UserError(f"清单为空：{path}")
        fields = columns(header)
    except ManifestError as e:
        raise UserError(str(e)) from None
    rows: list[Row] = []
    for raw in reader:
        if not any(v.strip() for v in raw):
            continue  # the blank lines spreadsheets leave at the end
        values = {f: v.strip() for f, v in zip(fields, raw, strict=False)}
        row = Row(line=reader.line_num, file=values.get("file", ""))
        if len(raw) > len(fields) and any(v.strip() for v in raw[len(fields) :]):
            row.error = "列数多于表头"
            rows.append(row)
            continue
        try:
            if not row.file:
                raise ValueError("文件名为空")
            row.category = values.get("category", "")
            if row.category not in CATEGORIES:
                raise ValueError(f"类号 {row.category!r} 不属于十大类")
            row.title = values.get("title", "")
            if not row.title:
                raise ValueError("题名为空")
            row.formation_date = parse_date(values.get("formation_date", ""))
            row.pages = _positive(values.get("pages", ""), "页数")
            if values.get("seq_no"):
                row.seq_no = _positive(values["seq_no"], "顺序号")
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
    directory: Annotated[Path | None, typer.Argument(help="材料所在目录。")] = None,
    volume: Annotated[str | None, typer.Option("--volume", help="案卷 ID。")] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="CSV 清单：文件、类号、题名、形成日期、页数[、顺序号]（中文或英文列名；"
            "UTF-8 或 GBK 编码）。",
        ),
    ] = None,
    template_path: Annotated[
        Path | None,
        typer.Option("--template", help="写出一份清单模板（CSV，可用表格软件打开）后退出。"),
    ] = None,
    allow_duplicates: Annotated[
        bool,
        typer.Option("--allow-duplicates", help="本卷已登记的相同文件也再次登记（默认跳过）。"),
    ] = False,
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=16, help="并发上传数（默认 4）。")] = 4,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """按 CSV 清单把目录中的材料登记入卷（进度条 + 汇总；失败的行列出，批次不中断）。"""
    if template_path is not None:
        _write_template(template_path)
        return
    if directory is None or volume is None or manifest is None:
        raise UserError(
            "用法：notary ingest 目录 --volume 案卷ID --manifest 清单.csv"
            "（清单模板：notary ingest --template 清单模板.csv）"
        )
    if not directory.is_dir():
        raise UserError(f"目录不存在：{directory}")
    rows = read_manifest(manifest)
    result = Outcome()
    with client(url, key) as c:
        existing = c.volume_materials(volume)  # also checks the volume and the key first
        paths = _resolve(directory, rows)
        if not allow_duplicates:
            result.skipped = _already_registered(rows, paths, existing)
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
            skipped = {int(x["line"]) for x in result.skipped}
            todo = [r for r in rows if r.line not in skipped]
            task = progress.add_task("ingest", total=len(todo), current="")
            futures = [pool.submit(_one, c, paths.get(r.line), volume, r) for r in todo]
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


def _write_template(path: Path) -> None:
    if path.exists():
        raise UserError(f"文件已存在：{path}（请换一个文件名）")
    try:
        # UTF-8 with a BOM: spreadsheet programs then read the Chinese header right.
        path.write_text(template(), encoding="utf-8-sig", newline="")
    except OSError as e:
        raise UserError(f"无法写入模板 {path}：{e.strerror or e}") from None
    out.print(
        f"清单模板已写入：{path}。用表格软件填写（每份材料一行；形成日期可写 1998-07-01、"
        "1998-07 或 1998.07.01），另存为 CSV（UTF-8 或 GBK 均可），再用 "
        "notary ingest 目录 --volume 案卷ID --manifest 该文件 登记。"
    )


def _already_registered(
    rows: list[Row], paths: dict[int, Path], existing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows whose file is already a material of the volume (same SM3) or repeats an
    earlier row: skipped, each with what it repeats."""
    known = {str(m["sm3"]): f"{m['category']}-{m['seq_no']}《{m['title']}》" for m in existing}
    skipped: list[dict[str, Any]] = []
    for r in rows:
        path = paths.get(r.line)
        if r.error or path is None:
            continue
        digest = sm3_file(path).hex()
        if digest in known:
            skipped.append(
                {"line": r.line, "file": r.file, "reason": f"本卷已登记相同文件：{known[digest]}"}
            )
            r.error = "skipped"  # so that it takes no 顺序号 (_number)
        else:
            known[digest] = f"清单第 {r.line} 行"
    return skipped


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
                "skipped": len(result.skipped),
                "bytes": result.bytes,
                "materials": result.ok,
                "failures": result.failed,
                "duplicates": result.skipped,
            }
        )
        return
    out.print(
        f"登记完成：共 {total} 行，成功 {len(result.ok)}，失败 {len(result.failed)}，"
        + (f"重复未登记 {len(result.skipped)}，" if result.skipped else "")
        + f"{result.bytes:,} 字节"
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
    if result.skipped:
        t = Table("行", "文件", "原因", title="重复，未登记（确需再次登记请加 --allow-duplicates）")
        for f in result.skipped:
            t.add_row(str(f["line"]), f["file"], f["reason"])
        out.print(t)
