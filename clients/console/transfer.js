// One transfer (转递): its notice, the materials with their 四性 results, the acts the
// signed-in unit may perform now (核验, 签收回执, 拒收 / 打包, 转出), and its history.
import {
  $,
  api,
  ApiError,
  badge,
  CHAIN_OUTCOME_ZH,
  CHECK_NAME_ZH,
  checkBadge,
  checkSentence,
  detailsEl,
  downloadPdf,
  focus,
  h,
  handlerText,
  hexEl,
  labelledTime,
  overdueBadge,
  overdueMap,
  param,
  PROPERTIES,
  say,
  sayError,
  STATE_ZH,
  startPage,
  stateBadge,
  timeEl,
  transfer as T,
  unitText,
  VOLUME_KIND_ZH,
} from "./console.js";

const id = param("id");
const who = startPage(null);
let current = null;
let report = null;

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value ?? "—")];
}

function resultsOf(doc) {
  if (!doc) return null;
  const r = doc.results && typeof doc.results === "object" ? doc.results : doc;
  return Array.isArray(r.materials) ? r : null;
}

function accepted(doc) {
  if (!doc) return false;
  if (typeof doc.accepted === "boolean") return doc.accepted;
  const r = resultsOf(doc);
  if (!r) return false;
  const props = PROPERTIES.map(([en]) => en);
  const ok = r.materials.every((m) => props.every((p) => m[p] === "pass"));
  return ok && (r.transfer || []).every((c) => c.status === "pass");
}

function renderNotice(t) {
  const me = who.unit_code;
  const incoming = T.receiver(t).code === me;
  $("#back").href = `transfers.html?role=${incoming ? "incoming" : "outgoing"}`;
  $("#back").textContent = incoming ? "← 返回收件箱" : "← 返回发件箱";
  const no = T.no(t) || T.id(t);
  $("#title").replaceChildren(`转递 ${no} `, stateBadge(T.state(t)), ...(T.overdue(t) ? [" ", overdueBadge()] : []));
  document.title = `转递 ${no} · 档案公证控制台`;
  const volumes = T.volumes(t).map((v) => {
    const vid = v.volume_id ?? v.id ?? v;
    const kind = VOLUME_KIND_ZH[v.kind] || v.kind || "";
    return h(
      "li",
      {},
      `${kind} `,
      h("code", {}, String(vid)),
      v.material_count !== undefined ? `（材料 ${v.material_count} 份）` : "",
      " ",
      h("a", { href: `provenance.html?volume=${encodeURIComponent(vid)}` }, "来源追溯"),
    );
  });
  $("#notice-facts").replaceChildren(
    ...fact("转递编号", no),
    ...fact("转递 ID", h("code", {}, T.id(t))),
    ...fact("状态", stateBadge(T.state(t))),
    ...fact("转出单位", unitText(T.sender(t))),
    ...fact("接收单位", unitText(T.receiver(t))),
    ...fact("转递原因", T.reason(t) || "—"),
    ...fact("密级", T.classification(t) || "—"),
    ...fact("案卷", volumes.length ? h("ul", { class: "plain" }, volumes) : "—"),
    ...fact("材料份数", String(T.materialCount(t) ?? "—")),
    ...fact("创建时间", timeEl(T.created(t))),
    ...fact("期限", h("span", {}, timeEl(T.deadline(t)), T.overdue(t) ? [" ", overdueBadge(T.overdueText(t, incoming))] : [])),
    ...(t.package_root ? fact("包根（SM3）", hexEl(t.package_root, 24)) : []),
    ...(t.dispatch ? fact("转出经办人", handlerText(t.dispatch_handler)) : []),
    ...(t.outcome ? fact(incoming ? "本单位经办人" : "接收单位经办人", handlerText(t.outcome_handler)) : []),
  );
  $("#notice").hidden = false;
  renderReminders(t, incoming);
}

/** 催办 of the sending unit: the receiver reads who chased and when; the sender what it did. */
function renderReminders(t, incoming) {
  const list = Array.isArray(t.reminders) ? t.reminders : [];
  const el = $("#reminders");
  if (!list.length) {
    el.hidden = true;
    return;
  }
  const items = list.map((r) =>
    h(
      "li",
      {},
      timeEl(r.at),
      `　转出单位经办人 ${handlerText(r.handler)} 催办`,
      r.note ? `：${r.note}` : "",
    ),
  );
  const last = list[list.length - 1];
  $("#reminders-lead").textContent = incoming
    ? `转出单位已催办 ${list.length} 次（最近一次 ${labelledTime(last.at)}）。请尽快核验材料，并签收回执或拒收。`
    : `本单位已催办 ${list.length} 次（最近一次 ${labelledTime(last.at)}），接收单位在其收件箱和本转递页面可见。`;
  $("#reminders-list").replaceChildren(...items);
  el.hidden = false;
}

// 类号-顺序号《题名》 where the unit can read the volume (the sender; the receiver once it
// holds it); otherwise the position in the notice's catalogue and the 类号.
let titles = new Map();

async function loadTitles(t) {
  titles = new Map();
  for (const v of T.volumes(t)) {
    const vid = v.volume_id ?? v.id ?? v;
    try {
      const { data } = await api(`/v1/volumes/${encodeURIComponent(vid)}/materials?all_versions=true`);
      for (const m of data || []) titles.set(String(m.id), m);
    } catch {
      // not held by this unit (yet): the catalogue's 类号 is all there is
    }
  }
}

function materialName(mid, m, index) {
  const known = titles.get(mid);
  const label = known ? `${known.category}-${known.seq_no}《${known.title}》` : `第 ${index + 1} 份（类号 ${m.category ?? "—"}）`;
  return h("span", { title: mid }, label);
}

function failedCount(doc) {
  const r = resultsOf(doc);
  if (!r) return 0;
  const props = PROPERTIES.map(([en]) => en);
  return r.materials.filter((m) => !props.every((p) => m[p] === "pass")).length;
}

/** The 四性 result as a banner: green only when everything passed. */
function renderBanner(t) {
  const el = $("#banner");
  const r = resultsOf(report);
  const incoming = T.receiver(t).code === who.unit_code;
  if (!r) {
    el.hidden = true;
    return;
  }
  const ok = accepted(report);
  const failed = failedCount(report);
  const state = T.state(t);
  let next;
  if (ok) next = incoming && state === "verified" ? "下一步：签收回执。" : "";
  else if (incoming && state === "verified") next = "下一步：不能签收回执，请点“拒收…”写明理由（下表“问题”列已逐份列出）。";
  else if (!incoming && ["rejected", "returned"].includes(state)) next = "";
  else next = "请查看下表“问题”列。";
  el.className = `banner ${ok ? "banner-ok" : "banner-bad"}`;
  el.replaceChildren(
    h("p", {}, h("strong", {}, ok ? "✓ 四性检测全部通过" : `✗ 四性检测未通过：${failed ? `${failed} 份材料有问题` : "整体检查有问题"}`)),
    ...(next ? [h("p", {}, next)] : []),
  );
  el.hidden = false;
}

/** The receiver's signed rejection, on both sides, with the sender's next step. */
function renderOutcome(t) {
  const el = $("#outcome");
  const body = t.outcome && t.outcome.body;
  const state = T.state(t);
  if (!body || !Array.isArray(body.reasons) || !["rejected", "returned"].includes(state)) {
    el.hidden = true;
    return;
  }
  const incoming = T.receiver(t).code === who.unit_code;
  const catalogue = T.materials(t).map((m) => String(m.material_id));
  const items = body.reasons.map((r) => {
    const mid = r.material_id ? String(r.material_id) : null;
    const who_ = mid ? [materialName(mid, T.materials(t).find((m) => String(m.material_id) === mid) || {}, catalogue.indexOf(mid)), "："] : [];
    if (r.code === "other" || !String(r.code).includes(".")) {
      return h("li", {}, who_, r.detail);
    }
    const [property, check] = String(r.code).split(".");
    const { text, detail } = checkSentence({ property, check, status: "fail", detail: r.detail }, !incoming);
    return h("li", {}, who_, text, " ", detailsEl(detail));
  });
  let next;
  if (incoming) next = "拒收已签名并通知转出单位；保管权仍属转出单位，本单位无需再办理。";
  else if (state === "rejected") next = "下一步：按上述理由核对材料，点“退回”办理退回手续；补正后可重新转递。";
  else next = "已办理退回。补正材料后，点“重新转递”发出新的通知单。";
  el.replaceChildren(
    h("h2", { id: "outcome-title" }, incoming ? "本单位的拒收理由" : "接收单位的拒收理由"),
    h("ul", { class: "reasons", id: "reasons" }, items),
    h("p", { class: "hint" }, next),
  );
  el.hidden = false;
}

function isIncoming(t) {
  return T.receiver(t).code === who.unit_code;
}

function renderMaterials(t) {
  const catalogue = T.materials(t);
  const r = resultsOf(report);
  const byId = new Map((r ? r.materials : []).map((m) => [String(m.material_id), m]));
  const ids = catalogue.length ? catalogue.map((m) => String(m.material_id)) : [...byId.keys()];
  if (!ids.length) {
    $("#materials").hidden = true;
    return;
  }
  const meta = new Map(catalogue.map((m) => [String(m.material_id), m]));
  const rows = ids.map((mid) => {
    const m = meta.get(mid) || {};
    const res = byId.get(mid);
    const failures = res && res.failures && res.failures.length
      ? h(
          "ul",
          { class: "plain" },
          res.failures.map((f) => {
            const { text, detail } = checkSentence(f, !isIncoming(t));
            return h("li", { "data-check": f.check }, text, " ", detailsEl(detail));
          }),
        )
      : res ? "无" : "未检测";
    return h(
      "tr",
      { "data-material-id": mid },
      h("th", { scope: "row" }, materialName(mid, m, ids.indexOf(mid))),
      h("td", { "data-label": "类号" }, m.category ?? "—"),
      ...PROPERTIES.map(([en, zh]) => h("td", { "data-label": zh }, res ? checkBadge(res[en]) : badge("未检测", "neutral"))),
      h("td", { "data-label": "问题" }, failures),
    );
  });
  const transferChecks = r && r.transfer && r.transfer.length
    ? h(
        "div",
        { class: "hint table-note" },
        "整体检查：",
        r.transfer.map((c) => [`${CHECK_NAME_ZH[c.check] || "检查"} `, checkBadge(c.status), "　"]),
        h(
          "ul",
          { class: "plain" },
          r.transfer.filter((c) => c.status !== "pass").map((c) => {
            const { text, detail } = checkSentence(c, !isIncoming(t));
            return h("li", { "data-check": c.check }, text, " ", detailsEl(detail));
          }),
        ),
      )
    : null;
  const caption = r
    ? `共 ${ids.length} 份材料；四性检测${accepted(report) ? "全部通过" : "未全部通过"}`
    : `共 ${ids.length} 份材料；尚未进行四性检测`;
  $("#materials-table").replaceChildren(
    h(
      "table",
      { id: "materials-results", class: "rows-table" },
      h("caption", {}, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "材料"),
          h("th", { scope: "col" }, "类号"),
          ...PROPERTIES.map(([, zh]) => h("th", { scope: "col" }, zh)),
          h("th", { scope: "col" }, "问题"),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
  if (transferChecks) $("#materials-table").append(transferChecks);
  $("#materials").hidden = false;
}

/** Each failed check of the 四性 report as a signed reason (as the service derives them
 * when no reasons are given): the sender sees which material failed which check. */
function reportReasons() {
  const r = resultsOf(report);
  if (!r) return [];
  const out = [];
  for (const c of r.transfer || []) {
    if (c.status !== "pass") out.push({ code: `${c.property}.${c.check}`, detail: String(c.detail || c.status).slice(0, 500), material_id: null, property: c.property });
  }
  for (const m of r.materials) {
    for (const c of m.failures || []) {
      if (c.status !== "pass") out.push({ code: `${c.property}.${c.check}`, detail: String(c.detail || c.status).slice(0, 500), material_id: String(m.material_id), property: c.property });
    }
  }
  return out;
}

async function resend() {
  for (const b of document.querySelectorAll("#action-buttons button")) b.disabled = true;
  say("正在重新转递…", "busy");
  try {
    const { data } = await api(`/v1/transfers/${encodeURIComponent(id)}/resend`, { method: "POST", body: {} });
    location.assign(`transfer.html?id=${encodeURIComponent(data.transfer_id)}&created=1`);
  } catch (err) {
    sayError("重新转递失败：", err);
    await load(false);
  }
}

function verifiedMessage() {
  if (accepted(report)) return ["四性检测完成：全部通过。请查看结果后签收回执。", "ok"];
  const n = failedCount(report);
  return [`四性检测完成：${n ? `${n} 份材料未通过` : "整体检查未通过"}，不能签收回执。请查看“问题”列后拒收并写明理由。`, "error"];
}

function button(label, action, opts = {}) {
  return h(
    "button",
    { type: "button", "data-action": opts.name, class: opts.kind || null, disabled: opts.disabled, onclick: action },
    label,
  );
}

async function act(path, body, busy, done) {
  for (const b of document.querySelectorAll("#action-buttons button")) b.disabled = true;
  say(busy, "busy");
  try {
    for (const step of Array.isArray(path) ? path : [path]) {
      await api(`/v1/transfers/${encodeURIComponent(id)}/${step}`, { method: "POST", body: body ?? {} });
    }
    await load();
    if (typeof done === "function") say(...done());
    else say(done, "ok");
    focus($("#title"));
  } catch (err) {
    sayError(`${busy.replace(/…$/, "")}失败：`, err);
    await load(false);
  }
}

function renderActions(t) {
  const me = who.unit_code;
  const state = T.state(t);
  const incoming = T.receiver(t).code === me;
  const buttons = [];
  let hint = "";
  if (incoming) {
    if (state === "dispatched" || state === "delivered") {
      hint = "先核验材料：逐份检查真实性、完整性、可用性、安全性，再决定签收或拒收。";
      const steps = state === "dispatched" ? ["deliver", "verify"] : ["verify"];
      buttons.push(button("核验材料（四性检测）", () => act(steps, {}, "正在接收并核验材料…", verifiedMessage), { name: "verify" }));
    }
    if (state === "verified") {
      const ok = accepted(report);
      hint = ok
        ? "四性检测全部通过：签收回执后，保管权在链上转移至本单位。"
        : "四性检测未全部通过：不能签收回执，请拒收并写明理由。";
      buttons.push(
        button("签收回执…", openAccept, {
          name: "accept",
          disabled: !ok,
        }),
      );
    }
    if (state === "delivered" || state === "verified") {
      buttons.push(button("拒收…", openReject, { name: "reject", kind: "danger" }));
    }
    if (state === "received") hint = "本单位已签收回执，保管权已转移至本单位。";
    if (state === "rejected" || state === "returned") hint = "本单位已拒收，保管权仍属转出单位。";
  } else {
    if (state === "created") {
      hint = "通知单已创建。下一步：打包（材料按接收单位的密钥重新封装），然后转出。";
      buttons.push(button("打包（BagIt）", () => act("package", {}, "正在打包…", "已打包。"), { name: "package" }));
    }
    if (state === "packaged") {
      hint = "转出时本单位以 SM2 签名，包根与期限锚定上链。";
      buttons.push(button("转出", () => act("dispatch", {}, "正在转出…", "已转出，等待接收单位签收。"), { name: "dispatch" }));
    }
    if (["dispatched", "delivered", "verified"].includes(state)) {
      hint = "已转出，等待接收单位核验并签收回执。";
      if (T.overdue(t)) {
        hint = "接收单位逾期未答复：可以催办，催办记录会显示在接收单位的收件箱和本页面。";
        buttons.push(button("催办…", openRemind, { name: "remind" }));
      }
    }
    if (state === "received") hint = "接收单位已签收回执，保管权已转移。";
    if (state === "rejected") {
      hint = "接收单位已拒收，保管权仍属本单位。请按拒收理由核对后办理退回。";
      buttons.push(button("退回", () => act("return", {}, "正在办理退回…", "已办理退回。补正材料后可重新转递。"), { name: "return" }));
    }
    if (state === "returned") {
      hint = "已退回，保管权仍属本单位。补正材料后可重新转递（新的通知单，原转递的记录保留）。";
      buttons.push(button("重新转递", resend, { name: "resend" }));
    }
  }
  $("#actions-hint").textContent = hint;
  $("#action-buttons").replaceChildren(...buttons);
  $("#reject-form").hidden = true;
  $("#accept-form").hidden = true;
  $("#remind-form").hidden = true;
  $("#actions").hidden = !hint && !buttons.length;
}

// 签收回执 is not undone: the clerk confirms it first (the custody moves on chain).
function openAccept(event) {
  const form = $("#accept-form");
  const opener = event.currentTarget;
  form.hidden = false;
  opener.setAttribute("aria-expanded", "true");
  opener.setAttribute("aria-controls", "accept-form");
  $("#confirm-accept").focus();
}

function openRemind(event) {
  const form = $("#remind-form");
  const opener = event.currentTarget;
  form.hidden = false;
  opener.setAttribute("aria-expanded", "true");
  opener.setAttribute("aria-controls", "remind-form");
  $("#remind-note").focus();
}

function openReject(event) {
  const form = $("#reject-form");
  const opener = event.currentTarget;
  form.hidden = false;
  opener.setAttribute("aria-expanded", "true");
  opener.setAttribute("aria-controls", "reject-form");
  $("#reject-reason").focus();
}

const EVENT_ZH = {
  create: "创建（通知单）",
  created: "创建（通知单）",
  package: "打包",
  dispatch: "转出（签名并上链）",
  deliver: "送达",
  import: "送达（离线导入）",
  incoming: "登记来件",
  verify: "四性检测",
  accept: "签收回执",
  reject: "拒收",
  return: "退回",
  recall: "撤回",
  custody: "保管权转移（链上）",
  resend: "重新转递",
  remind: "催办",
};

// Steps a person makes (their 经办人 is shown, 未登记 when the key has no name); the
// others are the service's own (保管权转移, a dispatch observed on chain).
const BY_HANDLER = new Set(["create", "package", "dispatch", "deliver", "verify", "accept", "reject", "return", "recall", "resend", "remind"]);

const CUSTODY_ZH = { held: "保管中", in_transit: "转递中", in_transfer: "转递中", none: "未登记" };

function renderTimeline(doc) {
  const events = doc ? doc.events || [] : [];
  const chain = doc ? doc.chain || [] : [];
  if (!events.length && !chain.length) {
    $("#timeline").hidden = true;
    return;
  }
  const list = events.map((e) => {
    const tx = Array.isArray(e.tx) ? e.tx : e.tx ? [e.tx] : [];
    const change = e.from && e.to && e.from !== e.to ? `${STATE_ZH[e.from] || e.from} → ${STATE_ZH[e.to] || e.to}` : STATE_ZH[e.to] || "";
    return h(
      "li",
      { "data-event": e.event },
      h("span", { class: "what" }, EVENT_ZH[e.event] || "其他办理事项", EVENT_ZH[e.event] ? null : [" ", detailsEl(e.event)]),
      timeEl(e.at),
      h(
        "p",
        { class: "meta" },
        change,
        BY_HANDLER.has(e.event) && !(e.detail && (e.detail.observed || e.detail.observed_on_chain))
          ? `　经办人 ${handlerText(e.detail && e.detail.handler)}`
          : null,
        e.detail && e.detail.note ? `　附言：${e.detail.note}` : null,
        e.leaf_index !== undefined && e.leaf_index !== null ? `　日志序号 ${e.leaf_index}` : null,
        tx.map((x) => ["　交易 ", hexEl(x, 18)]),
      ),
    );
  });
  const custody = chain.map((c) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, hexEl(c.chain_volume_id, 16)),
      h("td", {}, CUSTODY_ZH[c.custody_state] || c.custody_state || "—"),
      h("td", {}, c.custodian ? h("code", { class: "hex" }, c.custodian) : "—"),
      h("td", {}, c.dispatch ? `第 ${c.dispatch.number} 次转递：${CHAIN_OUTCOME_ZH[c.dispatch.outcome] || c.dispatch.outcome}` : "—"),
    ),
  );
  $("#timeline-list").replaceChildren(...list);
  $("#chain-custody").replaceChildren(
    ...(custody.length
      ? [
          h(
            "table",
            { id: "custody-on-chain" },
            h("caption", {}, "链上保管状态（合约记录，各部署所见相同）"),
            h(
              "thead",
              {},
              h("tr", {}, ["链上案卷标识", "状态", "保管账户", "转递记录"].map((t) => h("th", { scope: "col" }, t))),
            ),
            h("tbody", {}, custody),
          ),
        ]
      : []),
  );
  $("#chain-custody").hidden = !custody.length;
  $("#timeline").hidden = false;
}

const FORMS = [
  ["notice", "打印转递通知单", () => true],
  ["list", "打印转递材料目录", () => true],
  ["receipt", "打印回执", (state) => state === "received"],
  ["rejection", "打印退回单", (state) => ["rejected", "returned"].includes(state)],
];

function renderPrint(t) {
  const state = T.state(t);
  const buttons = FORMS.filter(([, , shown]) => shown(state)).map(([form, label]) =>
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        "data-action": `print-${form}`,
        onclick: async () => {
          say("正在生成文书…", "busy");
          try {
            const names = {};
            const cadre = $("#print-cadre").value.trim();
            const handler = $("#print-handler").value.trim();
            if (cadre) names.cadre_name = cadre;
            if (handler) names.handler = handler;
            await downloadPdf(
              `/v1/transfers/${encodeURIComponent(id)}/forms/${form}.pdf`,
              `${T.id(t)}-${form}.pdf`,
              form === "notice" && Object.keys(names).length ? names : null,
            );
            say(`${label.slice(2)}已下载（PDF），请用 PDF 阅读器打印。`, "ok");
          } catch (err) {
            say(`无法生成文书：${err.message}`, "error");
          }
        },
      },
      label,
    ),
  );
  $("#print-buttons").replaceChildren(...buttons);
  $("#print").hidden = false;
}

async function optional(path) {
  try {
    return (await api(path)).data;
  } catch (err) {
    if (err instanceof ApiError && [404, 409].includes(err.status)) return null;
    throw err;
  }
}

async function load(announce = true) {
  if (announce) say("正在加载…", "busy");
  try {
    const [one, late] = await Promise.all([api(`/v1/transfers/${encodeURIComponent(id)}`), overdueMap()]);
    current = { ...one.data, overdue: (late && late.get(T.id(one.data))) || [] };
    const state = T.state(current);
    report = ["verified", "received", "rejected", "returned"].includes(state)
      ? await optional(`/v1/transfers/${encodeURIComponent(id)}/report`)
      : null;
    const timeline = await optional(`/v1/transfers/${encodeURIComponent(id)}/timeline`);
    await loadTitles(current);
    renderNotice(current);
    renderBanner(current);
    renderOutcome(current);
    renderActions(current);
    renderPrint(current);
    renderMaterials(current);
    renderTimeline(timeline);
    if (announce) {
      if (param("created") && state === "created") say("转递通知单已创建。下一步：打包，然后转出。", "ok");
      else say("", "info");
    }
  } catch (err) {
    sayError("无法加载转递：", err);
  }
}

if (who) {
  if (!id) {
    say("缺少转递 ID。", "error");
  } else {
    $("#reject-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const reason = $("#reject-reason").value.trim();
      if (!reason) {
        $("#reject-reason").setAttribute("aria-invalid", "true");
        say("请填写拒收理由。", "error");
        $("#reject-reason").focus();
        return;
      }
      act(
        "rejection",
        { reasons: [{ code: "other", detail: reason }, ...reportReasons()] },
        "正在签署拒收…",
        "已拒收，理由已签名并退回转出单位；保管权不转移。",
      );
    });
    $("#confirm-accept").addEventListener("click", () =>
      act("receipt", {}, "正在签署回执…", "回执已签署，保管权已转移至本单位。"),
    );
    $("#cancel-accept").addEventListener("click", () => {
      $("#accept-form").hidden = true;
      const opener = document.querySelector('[data-action="accept"]');
      if (opener) {
        opener.setAttribute("aria-expanded", "false");
        opener.focus();
      }
    });
    $("#remind-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const note = $("#remind-note").value.trim();
      act(
        "reminders",
        note ? { note } : {},
        "正在催办…",
        "已催办：接收单位在收件箱和本转递页面可以看到催办记录。",
      );
    });
    $("#cancel-remind").addEventListener("click", () => {
      $("#remind-form").hidden = true;
      const opener = document.querySelector('[data-action="remind"]');
      if (opener) {
        opener.setAttribute("aria-expanded", "false");
        opener.focus();
      }
    });
    $("#reject-reason").addEventListener("input", (e) => e.target.removeAttribute("aria-invalid"));
    $("#cancel-reject").addEventListener("click", () => {
      $("#reject-form").hidden = true;
      const opener = document.querySelector('[data-action="reject"]');
      if (opener) {
        opener.setAttribute("aria-expanded", "false");
        opener.focus();
      }
    });
    load();
  }
}
