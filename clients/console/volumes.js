// 本单位案卷: find a volume by the cadre's identifier (blinded lookup), create one
// (正本/副本), and from each volume: 登记材料, 发起转递, 来源追溯.
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

function row(v) {
  const held = v.status === "held";
  return h(
    "tr",
    { "data-volume-id": v.id },
    h("th", { scope: "row" }, h("code", { class: "hex", title: v.id }, v.id)),
    h("td", {}, VOLUME_KIND_ZH[v.kind] || v.kind),
    h("td", {}, badge(VOLUME_STATUS_ZH[v.status] || v.status, held ? "ok" : "warn")),
    h("td", {}, hexEl(v.cadre_blind_id, 12)),
    h("td", {}, timeEl(v.created_at)),
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
    ),
  );
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
              ["案卷 ID", "正本/副本", "状态", "干部盲化标识", "建档时间", "操作"].map((t) =>
                h("th", { scope: "col" }, t),
              ),
            ),
          ),
          h("tbody", {}, items.map(row)),
        )
      : h("p", { class: "empty" }, emptyText),
  );
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

function invalid(input, text) {
  input.setAttribute("aria-invalid", "true");
  say(text, "error");
  input.focus();
}

async function lookup(event) {
  event.preventDefault();
  const input = $("#lookup-id");
  const id = input.value.trim();
  if (!id) return invalid(input, "请填写干部身份证号。");
  input.removeAttribute("aria-invalid");
  say("正在查找…", "busy");
  try {
    const { data } = await api("/v1/volumes/lookup", { method: "POST", body: { cadre_identifier: id } });
    const items = itemsOf(data);
    show(items, `查找结果：本单位保管该干部的案卷 ${items.length} 卷`, "本单位没有保管该干部的案卷（请核对身份证号，或该档案由其他单位保管）。");
    say(items.length ? `找到 ${items.length} 卷。` : "未找到：本单位没有保管该干部的案卷。", items.length ? "ok" : "info");
  } catch (err) {
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
  $("#create").disabled = true;
  say("正在建立案卷…", "busy");
  try {
    const { data } = await api("/v1/volumes", { method: "POST", body: { cadre_identifier: id, kind } });
    input.value = "";
    show([data], `新建的案卷（${VOLUME_KIND_ZH[data.kind]}）`, "");
    say(`已建立${VOLUME_KIND_ZH[data.kind]}案卷。下一步：点“登记材料”登记该卷的材料。`, "ok");
    focus($("#volumes caption"));
  } catch (err) {
    sayError("建立案卷失败：", err);
  } finally {
    $("#create").disabled = false;
  }
}

if (who) {
  $("#lookup-form").addEventListener("submit", lookup);
  $("#create-form").addEventListener("submit", create);
  $("#show-all").addEventListener("click", load);
  for (const el of ["#lookup-id", "#create-id"]) {
    $(el).addEventListener("input", (e) => e.target.removeAttribute("aria-invalid"));
  }
  load();
}
