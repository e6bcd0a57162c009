// 收件箱 / 发件箱: the unit's incoming or outgoing transfers, with deadlines and 逾期 marks.
import {
  $,
  api,
  badge,
  h,
  labelledTime,
  itemsOf,
  overdueBadge,
  overdueMap,
  param,
  say,
  startPage,
  stateBadge,
  timeEl,
  transfer as T,
  unitText,
} from "./console.js";

const role = param("role") === "outgoing" ? "outgoing" : "incoming";
const who = startPage(role);
const TITLES = {
  incoming: ["收件箱（转入）", "转给本单位的干部人事档案。接收后须在期限内完成审核（四性检测）并签收回执或拒收。"],
  outgoing: ["发件箱（转出）", "本单位转出的档案。转出后一个月未收到回执即为逾期，应当催办。"],
};

// 催办 of the sending unit, on both sides' lists: the receiver sees it was chased.
function remindedBadge(t) {
  const list = Array.isArray(t.reminders) ? t.reminders : [];
  if (!list.length) return null;
  const last = list[list.length - 1];
  const el = badge(`已催办 ${list.length} 次`, "warn");
  el.title = `最近一次 ${labelledTime(last.at)}`;
  el.classList.add("reminded");
  return [" ", el];
}

function row(t) {
  const other = role === "incoming" ? T.sender(t) : T.receiver(t);
  const id = T.id(t);
  const no = T.no(t) || id;
  const overdue = T.overdue(t);
  return h(
    "tr",
    { class: overdue ? "overdue" : null, "data-transfer-id": id },
    h("th", { scope: "row" }, h("a", { href: `transfer.html?id=${encodeURIComponent(id)}` }, no)),
    h("td", { "data-label": role === "incoming" ? "转出单位" : "接收单位" }, unitText(other)),
    h("td", { "data-label": "状态" }, stateBadge(T.state(t)), remindedBadge(t)),
    h("td", { class: "num", "data-label": "卷数" }, String(T.volumes(t).length || "—")),
    h("td", { class: "num", "data-label": "材料份数" }, String(T.materialCount(t) ?? "—")),
    h("td", { "data-label": "创建日期" }, timeEl(T.created(t), true)),
    h("td", { "data-label": "期限" }, timeEl(T.deadline(t), true), overdue ? [" ", overdueBadge(T.overdueText(t, role === "incoming"))] : null),
  );
}

async function load() {
  const state = $("#state").value;
  const overdueOnly = $("#overdue-only").checked;
  const query = new URLSearchParams({ role });
  if (state) query.set("state", state);
  say("正在加载…", "busy");
  try {
    const [{ data }, late] = await Promise.all([api(`/v1/transfers?${query}`), overdueMap()]);
    let items = itemsOf(data).map((t) => ({ ...t, overdue: (late && late.get(T.id(t))) || [] }));
    if (overdueOnly) items = items.filter((t) => T.overdue(t));
    const overdue = items.filter((t) => T.overdue(t)).length;
    const caption = `${TITLES[role][0]}：共 ${items.length} 件` + (overdue ? `，其中逾期 ${overdue} 件` : "");
    const table = h(
      "table",
      { id: "transfers", class: "rows-table" },
      h("caption", {}, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "转递编号"),
          h("th", { scope: "col" }, role === "incoming" ? "转出单位" : "接收单位"),
          h("th", { scope: "col" }, "状态"),
          h("th", { scope: "col", class: "num" }, "卷数"),
          h("th", { scope: "col", class: "num" }, "材料份数"),
          h("th", { scope: "col" }, "创建日期"),
          h("th", { scope: "col" }, "期限"),
        ),
      ),
      h("tbody", {}, items.map(row)),
    );
    $("#list").replaceChildren(
      items.length ? table : h("p", { class: "empty" }, overdueOnly ? "没有逾期的转递。" : "暂无转递。"),
    );
    if (late) say(caption + "。", "quiet");
    else say(`${caption}。逾期信息暂时无法获取，请稍后刷新。`, "error");
  } catch (err) {
    $("#list").replaceChildren();
    say(`无法加载转递：${err.message}`, "error");
  }
}

if (who) {
  const [title, lead] = TITLES[role];
  document.title = `${title} · 档案公证控制台`;
  $("#title").textContent = title;
  $("#lead").textContent = lead;
  $("#new-transfer-line").hidden = role !== "outgoing";
  const state = param("state");
  if (state) $("#state").value = state;
  $("#filter").addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  load();
}
