// 本单位案卷: find a volume by the cadre's 身份证号 or 姓名 (one box; both blinded
// lookups, in the request body), create one (正本/副本, optionally with the 姓名), and
// from each volume: 登记材料, 转出, 来源追溯, 登记/更正姓名.
import {
  $,
  api,
  badge,
  focus,
  h,
  hexEl,
  itemsOf,
  say,
  sayError,
  startPage,
  timeEl,
  VOLUME_KIND_ZH,
  VOLUME_STATUS_ZH,
} from "./console.js";

const who = startPage("volumes");

// The search box's rule (as `notary volume find` at its prompt): 17 digits and a check
// digit or X, once full-width forms and spaces are folded, is a 身份证号; else a 姓名.
const ID_NUMBER = /^[0-9]{17}[0-9Xx]$/;

function folded(text) {
  return text.normalize("NFKC").replace(/\s+/g, "");
}

const NO_NAME = "未登记";

function row(v) {
  const held = v.status === "held";
  return h(
    "tr",
    { "data-volume-id": v.id },
    h("th", { scope: "row", class: "cadre-name" }, v.cadre_name || badge(NO_NAME, "neutral")),
    h("td", {}, VOLUME_KIND_ZH[v.kind] || v.kind),
    h("td", {}, badge(VOLUME_STATUS_ZH[v.status] || v.status, held ? "ok" : "warn")),
    h("td", {}, timeEl(v.created_at)),
    h("td", {}, h("code", { class: "hex", title: v.id }, v.id)),
    h("td", {}, hexEl(v.cadre_blind_id, 12)),
    h(
      "td",
      { class: "row-actions" },
      held
        ? h("a", { href: `ingest.html?volume=${encodeURIComponent(v.id)}`, "data-action": "ingest" }, "登记材料")
        : null,
      held ? " " : null,
      held
        ? h("a", { href: `send.html?volume=${encodeURIComponent(v.id)}`, "data-action": "send" }, "转出")
        : null,
      held ? " " : null,
      h("a", { href: `provenance.html?volume=${encodeURIComponent(v.id)}`, "data-action": "provenance" }, "来源追溯"),
      " ",
      h(
        "button",
        { type: "button", class: "secondary", "data-action": "name", onclick: () => editName(v) },
        v.cadre_name ? "更正姓名" : "登记姓名",
      ),
    ),
  );
}

let editing = null; // the volume whose name the name form is for

function editName(v) {
  editing = v;
  $("#name-title").textContent = v.cadre_name ? "更正干部姓名" : "登记干部姓名";
  $("#name-volume").textContent = `案卷 ${v.id}（${VOLUME_KIND_ZH[v.kind] || v.kind}）`;
  $("#name-input").value = v.cadre_name || "";
  $("#name-input").removeAttribute("aria-invalid");
  $("#name-card").hidden = false;
  $("#name-input").focus();
}

function closeName() {
  $("#name-card").hidden = true;
  editing = null;
}

async function saveName(event) {
  event.preventDefault();
  if (!editing) return;
  const input = $("#name-input");
  const name = input.value.trim();
  $("#name-save").disabled = true;
  say("正在保存姓名…", "busy");
  try {
    const { data } = await api(`/v1/volumes/${encodeURIComponent(editing.id)}/cadre-name`, {
      method: "PUT",
      body: { cadre_name: name || null },
    });
    closeName();
    show([data], "已更新的案卷", "");
    say(data.cadre_name ? `已登记干部姓名：${data.cadre_name}。` : "已删除该案卷的干部姓名。", "ok");
    focus($("#volumes caption"));
  } catch (err) {
    input.setAttribute("aria-invalid", "true");
    sayError("保存姓名失败：", err);
    input.focus();
  } finally {
    $("#name-save").disabled = false;
  }
}

function show(items, caption, emptyText) {
  $("#list").replaceChildren(
    items.length
      ? h(
          "table",
          { id: "volumes" },
          h("caption", {}, caption),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["干部姓名", "正本/副本", "状态", "建档时间", "案卷 ID", "干部盲化标识", "操作"].map((t) =>
                h("th", { scope: "col" }, t),
              ),
            ),
          ),
          h("tbody", {}, items.map(row)),
        )
      : h("p", { class: "empty" }, emptyText),
  );
  // At phone width the table scrolls sideways: new results start at 姓名 and 状态,
  // not where a click on a row's button last left it.
  $("#list").scrollLeft = 0;
}

async function load() {
  say("正在加载…", "busy");
  try {
    const items = [];
    let offset = 0;
    for (;;) {
      const { data } = await api(`/v1/volumes?limit=500&offset=${offset}`);
      items.push(...itemsOf(data));
      if (!data || data.next_offset === null || data.next_offset === undefined) break;
      offset = data.next_offset;
    }
    const caption = `${who.unit_name || who.unit_code}保管的案卷：共 ${items.length} 卷`;
    show(items, caption, "本单位目前没有保管的案卷。可在上方“新建案卷”建立。");
    say(caption + "。", "quiet");
  } catch (err) {
    sayError("无法加载案卷：", err);
  }
}

// Whether a refusal (422) names this field.
function about(err, field) {
  const errors = (err && err.problem && err.problem.errors) || [];
  return errors.some((e) => Array.isArray(e.loc) && e.loc.includes(field));
}

function invalid(input, text) {
  input.setAttribute("aria-invalid", "true");
  say(text, "error");
  input.focus();
}

async function lookup(event) {
  event.preventDefault();
  const input = $("#lookup-id");
  const typed = input.value.trim();
  if (!typed) return invalid(input, "请填写干部身份证号或姓名。");
  input.removeAttribute("aria-invalid");
  const byId = ID_NUMBER.test(folded(typed));
  const what = byId ? "身份证号" : "姓名";
  const body = byId ? { cadre_identifier: typed } : { cadre_name: typed };
  say(`正在按${what}查找…`, "busy");
  try {
    const { data } = await api("/v1/volumes/lookup", { method: "POST", body });
    const items = itemsOf(data);
    const cadres = new Set(items.map((v) => v.cadre_blind_id)).size;
    show(
      items,
      `按${what}查找：本单位保管的案卷 ${items.length} 卷`,
      `本单位没有保管该干部的案卷（请核对${what}，或该档案由其他单位保管）。`,
    );
    say(
      items.length
        ? `按${what}找到 ${items.length} 卷${cadres > 1 ? `，属于 ${cadres} 名同名干部（以盲化标识区分）` : ""}。`
        : `未找到：本单位没有保管该${what}的干部的案卷。`,
      items.length ? "ok" : "info",
    );
  } catch (err) {
    input.setAttribute("aria-invalid", "true");
    sayError("查找失败：", err);
  }
}

async function create(event) {
  event.preventDefault();
  const input = $("#create-id");
  const id = input.value.trim();
  if (!id) return invalid(input, "请填写干部身份证号。");
  input.removeAttribute("aria-invalid");
  const kind = document.querySelector('input[name="kind"]:checked').value;
  const name = $("#create-name").value.trim();
  const body = name ? { cadre_identifier: id, kind, cadre_name: name } : { cadre_identifier: id, kind };
  $("#create").disabled = true;
  say("正在建立案卷…", "busy");
  try {
    const { data } = await api("/v1/volumes", { method: "POST", body });
    input.value = "";
    $("#create-name").value = "";
    show([data], `新建的案卷（${VOLUME_KIND_ZH[data.kind]}）`, "");
    const named = data.cadre_name ? `（${data.cadre_name}）` : "";
    say(`已建立${VOLUME_KIND_ZH[data.kind]}案卷${named}。下一步：点“登记材料”登记该卷的材料。`, "ok");
    focus($("#volumes caption"));
  } catch (err) {
    if (about(err, "cadre_name")) $("#create-name").setAttribute("aria-invalid", "true");
    sayError("建立案卷失败：", err);
  } finally {
    $("#create").disabled = false;
  }
}

if (who) {
  $("#lookup-form").addEventListener("submit", lookup);
  $("#create-form").addEventListener("submit", create);
  $("#show-all").addEventListener("click", load);
  $("#name-form").addEventListener("submit", saveName);
  $("#name-cancel").addEventListener("click", closeName);
  for (const el of ["#lookup-id", "#create-id", "#create-name", "#name-input"]) {
    $(el).addEventListener("input", (e) => e.target.removeAttribute("aria-invalid"));
  }
  load();
}
