// 查阅审批 (an operator of the holding unit): approve or refuse applications to read
// the unit's volumes, revoke grants. The auditor (安全审计员) sees every grant here,
// without the buttons.
import {
  $,
  GRANT_STATE_KIND,
  GRANT_STATE_ZH,
  api,
  badge,
  can,
  currentSession,
  h,
  itemsOf,
  say,
  sayError,
  short,
  startPage,
  timeEl,
} from "./console.js";

const deciding = can(currentSession(), "read-grants:decide");
const who = startPage(deciding ? "grants" : "grants-audit");

async function act(g, action) {
  let body;
  if (action === "refuse") {
    const reason = window.prompt("不予批准的理由（可不填）：", "") ?? null;
    if (reason === null) return;
    body = reason.trim() ? { reason: reason.trim() } : {};
  }
  if (action === "revoke" && !window.confirm("撤销后查阅人立即不能再查阅。确定撤销？")) return;
  const verb = { approve: "批准", refuse: "不予批准", revoke: "撤销" }[action];
  say(`正在${verb}…`, "busy");
  try {
    await api(`/v1/read-grants/${g.id}/${action}`, { method: "POST", body });
    say(`已${verb}。`, "ok");
    await load();
  } catch (err) {
    sayError(`${verb}失败：`, err);
  }
}

function row(g) {
  const buttons = [];
  if (deciding && g.state === "pending") {
    buttons.push(h("button", { type: "button", "data-action": "approve", onclick: () => act(g, "approve") }, "批准"));
    buttons.push(" ");
    buttons.push(
      h("button", { type: "button", class: "secondary", "data-action": "refuse", onclick: () => act(g, "refuse") }, "不予批准"),
    );
  }
  if (deciding && g.state === "approved") {
    buttons.push(h("button", { type: "button", class: "secondary", "data-action": "revoke", onclick: () => act(g, "revoke") }, "撤销授权"));
  }
  return h(
    "tr",
    { "data-grant-id": g.id },
    h("td", {}, badge(GRANT_STATE_ZH[g.state] || g.state, GRANT_STATE_KIND[g.state] || "neutral")),
    h("td", {}, `${g.reader_unit_name || ""}（${g.reader_unit_code || ""}）`),
    who && !deciding ? h("td", {}, `${g.holder_unit_name || ""}（${g.holder_unit_code || ""}）`) : null,
    h("td", {}, g.volume_ids.map((v) => h("code", { class: "hex", title: v }, short(v)))),
    h("td", {}, g.categories.map((c) => `第 ${c} 类`).join("、")),
    h("td", {}, g.purpose),
    h("td", {}, timeEl(g.created_at)),
    h("td", {}, timeEl(g.expires_at)),
    h("td", { class: "row-actions" }, buttons),
  );
}

async function load() {
  try {
    const { data } = await api("/v1/read-grants");
    const items = itemsOf(data);
    const heads = ["状态", "查阅单位", deciding ? null : "保管单位", "案卷", "类别", "利用目的", "申请时间", "截止时间", "操作"];
    $("#grants").replaceChildren(
      items.length
        ? h(
            "table",
            { id: "grant-list" },
            h("caption", {}, deciding ? "本单位案卷的查阅申请（最新在前）" : "全部查阅申请与授权（最新在前）"),
            h("thead", {}, h("tr", {}, heads.filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, items.map(row)),
          )
        : h("p", { class: "empty" }, "没有查阅申请。"),
    );
  } catch (err) {
    sayError("无法加载查阅申请：", err);
  }
}

if (who) {
  if (!deciding) {
    $("#title").textContent = "查阅授权";
    $("#lead").textContent = "全部查阅申请与授权（分级授权）：谁申请查阅哪些案卷的哪些类别、为何、到何时，由谁审批。每一步都记入存证日志。";
  }
  load();
}
