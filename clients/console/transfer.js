// One transfer (转递): its notice, the materials with their 四性 results, the acts the
// signed-in unit may perform now (核验, 签收回执, 拒收 / 打包, 转出), and its history.
import {
  $,
  api,
  ApiError,
  badge,
  CHAIN_OUTCOME_ZH,
  CHECK_NAME_ZH,
  CHECK_ZH,
  checkBadge,
  downloadPdf,
  focus,
  h,
  hexEl,
  overdueBadge,
  overdueMap,
  param,
  PROPERTIES,
  say,
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
    ...fact("期限", h("span", {}, timeEl(T.deadline(t)), T.overdue(t) ? [" ", overdueBadge(T.overdueText(t))] : [])),
    ...(t.package_root ? fact("包根（SM3）", hexEl(t.package_root, 24)) : []),
  );
  $("#notice").hidden = false;
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
      ? h("ul", { class: "plain" }, res.failures.map((f) => h("li", {}, `${CHECK_NAME_ZH[f.check] || f.check}：${f.detail || CHECK_ZH[f.status] || f.status}`)))
      : res ? "—" : "未检测";
    return h(
      "tr",
      { "data-material-id": mid },
      h("th", { scope: "row" }, h("code", { title: mid }, mid.length > 13 ? `${mid.slice(0, 8)}…` : mid)),
      h("td", {}, m.category ?? "—"),
      h("td", {}, m.sm3 ? hexEl(m.sm3, 12) : "—"),
      ...PROPERTIES.map(([en]) => h("td", {}, res ? checkBadge(res[en]) : badge("未检测", "neutral"))),
      h("td", {}, failures),
    );
  });
  const transferChecks = r && r.transfer && r.transfer.length
    ? h(
        "p",
        { class: "hint table-note" },
        "整体检查：",
        r.transfer.map((c) => [`${CHECK_NAME_ZH[c.check] || c.check} `, checkBadge(c.status), "　"]),
      )
    : null;
  const caption = r
    ? `共 ${ids.length} 份材料；四性检测${accepted(report) ? "全部通过" : "未全部通过"}`
    : `共 ${ids.length} 份材料；尚未进行四性检测`;
  $("#materials-table").replaceChildren(
    h(
      "table",
      { id: "materials-results" },
      h("caption", {}, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "材料"),
          h("th", { scope: "col" }, "类号"),
          h("th", { scope: "col" }, "SM3"),
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
    say(done, "ok");
    focus($("#title"));
  } catch (err) {
    say(`${busy.replace(/…$/, "")}失败：${err.message}`, "error");
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
      buttons.push(button("核验材料（四性检测）", () => act(steps, {}, "正在接收并核验材料…", "四性检测完成，请查看结果后签收回执或拒收。"), { name: "verify" }));
    }
    if (state === "verified") {
      const ok = accepted(report);
      hint = ok
        ? "四性检测全部通过：签收回执后，保管权在链上转移至本单位。"
        : "四性检测未全部通过：不能签收回执，请拒收并写明理由。";
      buttons.push(
        button("签收回执", () => act("receipt", {}, "正在签署回执…", "回执已签署，保管权已转移至本单位。"), {
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
      buttons.push(button("打包（BagIt）", () => act("package", {}, "正在打包…", "已打包。"), { name: "package" }));
    }
    if (state === "packaged") {
      hint = "转出时本单位以 SM2 签名，包根与期限锚定上链。";
      buttons.push(button("转出", () => act("dispatch", {}, "正在转出…", "已转出，等待接收单位签收。"), { name: "dispatch" }));
    }
    if (["dispatched", "delivered", "verified"].includes(state)) hint = "已转出，等待接收单位核验并签收回执。";
    if (state === "received") hint = "接收单位已签收回执，保管权已转移。";
    if (state === "rejected") hint = "接收单位已拒收，保管权仍属本单位。";
  }
  $("#actions-hint").textContent = hint;
  $("#action-buttons").replaceChildren(...buttons);
  $("#reject-form").hidden = true;
  $("#actions").hidden = !hint && !buttons.length;
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
};

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
      h("span", { class: "what" }, EVENT_ZH[e.event] || e.event),
      timeEl(e.at),
      h(
        "p",
        { class: "meta" },
        change,
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
            await downloadPdf(
              `/v1/transfers/${encodeURIComponent(id)}/forms/${form}.pdf`,
              `${T.id(t)}-${form}.pdf`,
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
    renderNotice(current);
    renderActions(current);
    renderPrint(current);
    renderMaterials(current);
    renderTimeline(timeline);
    if (announce) say("", "info");
  } catch (err) {
    say(`无法加载转递：${err.message}`, "error");
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
        { reasons: [{ code: "other", detail: reason }] },
        "正在签署拒收…",
        "已拒收，理由已签名并退回转出单位；保管权不转移。",
      );
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
