// 本单位案卷: the volumes the signed-in unit holds now (custody), each with its timeline.
import {
  $,
  api,
  badge,
  h,
  hexEl,
  itemsOf,
  say,
  startPage,
  timeEl,
  VOLUME_KIND_ZH,
  VOLUME_STATUS_ZH,
} from "./console.js";

const who = startPage("volumes");

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
    const rows = items.map((v) =>
      h(
        "tr",
        { "data-volume-id": v.id },
        h("th", { scope: "row" }, h("code", {}, v.id)),
        h("td", {}, VOLUME_KIND_ZH[v.kind] || v.kind),
        h("td", {}, badge(VOLUME_STATUS_ZH[v.status] || v.status, v.status === "held" ? "ok" : "warn")),
        h("td", {}, hexEl(v.cadre_blind_id, 12)),
        h("td", {}, timeEl(v.created_at)),
        h(
          "td",
          {},
          h(
            "a",
            { href: `provenance.html?volume=${encodeURIComponent(v.id)}`, "aria-label": `来源追溯：案卷 ${v.id}` },
            "来源追溯",
          ),
        ),
      ),
    );
    const caption = `${who.unit_name || who.unit_code}保管的案卷：共 ${items.length} 卷`;
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
            h("tbody", {}, rows),
          )
        : h("p", { class: "empty" }, "本单位目前没有保管的案卷。"),
    );
    say(caption + "。", "quiet");
  } catch (err) {
    say(`无法加载案卷：${err.message}`, "error");
  }
}

if (who) load();
