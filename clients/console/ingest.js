// 登记材料: register files into a volume the unit holds, one row per file with its
// fields (类号, 顺序号, 页数, 题名, 形成日期); each row shows its own result. A file whose
// SM3 equals a material already in the volume (or another row) is flagged and left
// out unless the clerk ticks 仍然登记: re-running a batch must not register twice.
import {
  $,
  api,
  apiKey,
  ApiError,
  badge,
  detailsEl,
  focus,
  h,
  param,
  say,
  sayError,
  startPage,
  VOLUME_KIND_ZH,
} from "./console.js";
import { sm3File } from "./sm3.js";

const CATEGORIES = ["1", "2", "3", "4-1", "4-2", "4-3", "4-4", "5", "6", "7", "8", "9-1", "9-2", "9-3", "9-4", "10"];
const volumeId = param("volume");
const who = startPage("volumes");
let existing = [];
let rows = []; // {file, sm3, tr, done}

/** YYYY-MM-DD, YYYY-MM or YYYY.MM.DD (also YYYY/MM/DD) → YYYY-MM-DD, or null. Month-only
 * dates are registered as the 1st (the API stores a calendar date). Same rule as the
 * CLI's manifest (clients/manifest.py). */
export function normaliseDate(text) {
  const m = /^(\d{4})[-./年](\d{1,2})(?:[-./月](\d{1,2})日?)?月?$/.exec(text.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), m[3] === undefined ? 1 : Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return `${m[1]}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function designation(m) {
  return `${m.category}-${m.seq_no}`;
}

async function loadExisting() {
  const { data } = await api(`/v1/volumes/${encodeURIComponent(volumeId)}/materials`);
  existing = Array.isArray(data) ? data : [];
  $("#existing").replaceChildren(
    existing.length
      ? h(
          "table",
          { id: "existing-materials" },
          h("caption", {}, `共 ${existing.length} 份`),
          h("thead", {}, h("tr", {}, ["类号-顺序号", "题名", "形成日期", "页数"].map((t) => h("th", { scope: "col" }, t)))),
          h(
            "tbody",
            {},
            existing.map((m) =>
              h(
                "tr",
                { "data-material-id": m.id },
                h("th", { scope: "row" }, designation(m)),
                h("td", {}, m.title),
                h("td", {}, m.formation_date),
                h("td", { class: "num" }, String(m.pages)),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, "本卷还没有登记材料。"),
  );
}

function field(label, el) {
  return h("td", { "data-label": label }, el);
}

function duplicateOf(sm3, self) {
  const m = existing.find((x) => x.sm3 === sm3);
  if (m) return `本卷已登记相同文件：${designation(m)}《${m.title}》`;
  const other = rows.find((r) => r !== self && r.sm3 === sm3);
  return other ? `与本批的“${other.file.name}”是同一文件` : "";
}

function resultCell(r, content, kind = "") {
  const cell = r.tr.querySelector(".result");
  cell.className = `result ${kind}`;
  cell.replaceChildren(...content.filter((x) => x !== null && x !== undefined));
}

async function addFiles(files) {
  say(`正在计算 ${files.length} 个文件的 SM3 摘要…`, "busy");
  for (const file of files) {
    const base = file.name.replace(/\.[^.]+$/, "");
    const n = rows.length;
    const tr = h(
      "tr",
      { "data-file": file.name },
      h("th", { scope: "row", "data-label": "文件" }, h("code", { class: "file" }, file.name)),
      field(
        "类号",
        h(
          "select",
          { class: "category", "aria-label": `${file.name} 的类号` },
          h("option", { value: "" }, "请选择"),
          CATEGORIES.map((c) => h("option", { value: c }, c)),
        ),
      ),
      field("顺序号", h("input", { type: "number", min: 1, class: "seq", "aria-label": `${file.name} 的顺序号` })),
      field("页数", h("input", { type: "number", min: 1, class: "pages", "aria-label": `${file.name} 的页数` })),
      field("题名", h("input", { type: "text", class: "title", value: base, maxlength: 500, "aria-label": `${file.name} 的题名` })),
      field("形成日期", h("input", { type: "text", class: "date", placeholder: "1998-07-01", "aria-label": `${file.name} 的形成日期` })),
      h("td", { class: "result", "data-label": "结果" }, "待登记"),
    );
    const r = { file, sm3: "", tr, done: false, skip: false };
    rows.push(r);
    $("#rows tbody").append(tr);
    r.sm3 = await sm3File(file);
    const dup = duplicateOf(r.sm3, r);
    if (dup) {
      r.skip = true;
      const box = h("input", {
        type: "checkbox",
        class: "anyway",
        id: `anyway-${n}`,
        onchange: (e) => {
          r.skip = !e.target.checked;
        },
      });
      resultCell(r, [badge("⚠ 重复", "warn"), " ", h("span", { class: "warn-text" }, `${dup}，默认不登记。`), " ", box, h("label", { for: `anyway-${n}` }, "仍然登记")], "dup");
    }
  }
  $("#rows-card").hidden = false;
  $("#files-chosen").textContent = `已选择 ${rows.length} 个文件`;
  const dups = rows.filter((r) => r.skip).length;
  say(dups ? `已选择 ${rows.length} 个文件，其中 ${dups} 个与已登记材料相同（已标出）。请填写著录项。` : `已选择 ${rows.length} 个文件，请填写著录项。`, dups ? "warn" : "info");
}

function nextSeq(category, taken) {
  let max = 0;
  for (const m of existing) if (m.category === category) max = Math.max(max, Number(m.seq_no));
  for (const n of taken.get(category) || []) max = Math.max(max, n);
  return max + 1;
}

function readRow(r, taken) {
  const q = (sel) => r.tr.querySelector(sel);
  const problems = [];
  const category = q(".category").value;
  if (!category) problems.push("请选择类号");
  const pages = Number(q(".pages").value);
  if (!Number.isInteger(pages) || pages < 1) problems.push("页数须为正整数");
  const title = q(".title").value.trim();
  if (!title) problems.push("请填写题名");
  const date = normaliseDate(q(".date").value);
  if (!date) problems.push("形成日期须为 1998-07-01、1998-07 或 1998.07.01 的形式");
  let seq = q(".seq").value ? Number(q(".seq").value) : null;
  if (seq !== null && (!Number.isInteger(seq) || seq < 1)) problems.push("顺序号须为正整数");
  if (problems.length) return { problems };
  if (seq === null) seq = nextSeq(category, taken);
  taken.set(category, [...(taken.get(category) || []), seq]);
  return { fields: { category, seq_no: String(seq), pages: String(pages), title, formation_date: date } };
}

async function upload(r, fields) {
  const body = new FormData();
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  body.append("file", r.file, r.file.name); // the file after the fields (the API streams)
  let response;
  try {
    response = await fetch(`/v1/volumes/${encodeURIComponent(volumeId)}/materials`, {
      method: "POST",
      body,
      headers: { Authorization: `Bearer ${apiKey()}`, Accept: "application/json, application/problem+json", "X-Content-SM3": r.sm3 },
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, { detail: "无法连接服务" });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function submit(event) {
  event.preventDefault();
  const todo = rows.filter((r) => !r.done && !r.skip);
  if (!todo.length) {
    say(rows.length ? "没有待登记的材料（重复的文件默认不登记；如确需登记，请勾选“仍然登记”）。" : "请先选择文件。", "error");
    return;
  }
  const taken = new Map();
  const ready = [];
  let invalid = 0;
  for (const r of todo) {
    const { problems, fields } = readRow(r, taken);
    if (problems) {
      invalid += 1;
      resultCell(r, [badge("✗ 未登记", "bad"), " ", problems.join("；") + "。"], "bad");
    } else ready.push([r, fields]);
  }
  if (invalid) {
    say(`有 ${invalid} 行填写不完整，请按“结果”列的提示修改后再登记（未登记任何材料）。`, "error");
    const first = rows.find((r) => r.tr.querySelector(".result.bad"));
    if (first) focus(first.tr.querySelector("select, input"));
    return;
  }
  $("#upload").disabled = true;
  let ok = 0;
  let failed = 0;
  for (const [i, [r, fields]] of ready.entries()) {
    say(`正在登记 ${i + 1}/${ready.length}：${r.file.name}…`, "busy");
    resultCell(r, ["正在登记…"]);
    try {
      const m = await upload(r, fields);
      r.done = true;
      ok += 1;
      for (const el of r.tr.querySelectorAll("input, select")) el.disabled = true;
      resultCell(r, [badge("✓ 已登记", "ok"), ` ${fields.category}-${fields.seq_no}，已存证（日志第 ${m.leaf_index} 条）`], "ok");
    } catch (err) {
      failed += 1;
      resultCell(r, [badge("✗ 失败", "bad"), " ", err.message, err.detail ? detailsEl(err.detail) : null], "bad");
      if (err instanceof ApiError && [401, 403].includes(err.status)) break;
    }
  }
  $("#upload").disabled = false;
  const skipped = rows.filter((r) => r.skip && !r.done).length;
  try {
    await loadExisting();
  } catch {
    // the results above stand; the list is refreshed on the next visit
  }
  const text = `登记完成：成功 ${ok} 份，失败 ${failed} 份${skipped ? `，重复未登记 ${skipped} 份` : ""}。`;
  say(failed ? `${text}失败的行见“结果”列，修改后可再次点“登记入卷”（已成功的不会重复登记）。` : text, failed ? "error" : skipped ? "warn" : "ok");
}

async function start() {
  // Listeners first: a file chosen while the volume is still loading is not lost.
  $("#files").addEventListener("change", async (e) => {
    const files = [...e.target.files];
    e.target.value = "";
    if (files.length) await addFiles(files);
  });
  $("#clear").addEventListener("click", () => {
    rows = [];
    $("#rows tbody").replaceChildren();
    $("#rows-card").hidden = true;
    $("#files-chosen").textContent = "尚未选择文件";
    say("", "info");
  });
  $("#ingest-form").addEventListener("submit", submit);
  if (!volumeId) {
    say("缺少案卷 ID：请从“本单位案卷”选择案卷后点“登记材料”。", "error");
    return;
  }
  try {
    const { data: v } = await api(`/v1/volumes/${encodeURIComponent(volumeId)}`);
    $("#title").textContent = `登记材料 · ${VOLUME_KIND_ZH[v.kind] || v.kind}案卷`;
    $("#lead").append(h("br"), "案卷 ID：", h("code", {}, v.id));
    await loadExisting();
  } catch (err) {
    sayError("无法打开案卷：", err);
  }
}

if (who) start();
