// 来源追溯: the timeline of a volume or a material, in log order, with proof references.
import {
  $,
  api,
  badge,
  downloadPdf,
  focus,
  h,
  hexEl,
  param,
  say,
  startPage,
  timeEl,
} from "./console.js";

const who = startPage("provenance");
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

const KIND_ZH = {
  registered: "材料登记",
  corrected: "材料更正（新版本）",
  read: "利用（查阅）",
  "custody.registered": "建档登记",
  "custody.dispatched": "转出",
  "custody.received": "接收（签收回执）",
  "custody.rejected": "拒收",
  "custody.returned": "退回",
};

function proofText(proof) {
  if (!proof) return badge("未入日志", "neutral");
  if (proof.anchored && proof.anchor) {
    return h(
      "span",
      {},
      badge("✓ 已锚定上链", "ok"),
      `　检查点树大小 ${proof.tree_size}，区块 ${proof.anchor.block_number}，交易 `,
      hexEl(proof.anchor.tx_hash, 18),
    );
  }
  return badge(proof.tree_size ? "已签入检查点，待锚定" : "待锚定", "warn");
}

function item(e) {
  const custody = e.kind.startsWith("custody.");
  const units = custody
    ? [e.from_unit ? `自 ${e.from_unit}` : null, e.to_unit ? `至 ${e.to_unit}` : null].filter(Boolean).join(" ")
    : e.unit
      ? `单位 ${e.unit}`
      : "";
  const material = e.material_id
    ? [
        "材料 ",
        h("a", { href: `provenance.html?material=${encodeURIComponent(e.material_id)}` }, h("code", {}, e.material_id)),
        e.version ? `（第 ${e.version} 版）` : "",
      ]
    : null;
  return h(
    "li",
    { class: custody ? "custody" : "material", "data-kind": e.kind },
    h("span", { class: "what" }, KIND_ZH[e.kind] || e.kind),
    timeEl(e.time),
    h("p", { class: "meta" }, units, units && material ? "　" : "", material),
    e.purpose ? h("p", { class: "meta" }, `利用目的：${e.purpose}`) : null,
    e.sm3 ? h("p", { class: "meta" }, "SM3 ", hexEl(e.sm3, 24)) : null,
    e.tx_hash ? h("p", { class: "meta" }, "保管权交易 ", hexEl(e.tx_hash, 18)) : null,
    // The service re-derives a custody row's log entry: a row changed behind its back is flagged.
    e.verification && !e.verification.ok
      ? h(
          "p",
          { class: "meta", role: "alert" },
          badge(`✗ 未通过核验（${e.verification.check}）`, "bad"),
          `　${e.verification.detail || ""}`,
        )
      : null,
    h(
      "p",
      { class: "meta" },
      e.leaf_index === null || e.leaf_index === undefined ? "" : `日志序号 ${e.leaf_index}　`,
      proofText(e.proof),
    ),
  );
}

/** 打印: a material's 存证证明 as an A4 PDF (with its QR check reference). */
function printEvidence(materialId, ariaLabel) {
  return h(
    "button",
    {
      type: "button",
      class: "secondary",
      "data-action": "print-evidence",
      "data-material-id": materialId,
      "aria-label": ariaLabel,
      onclick: async () => {
        say("正在生成存证证明…", "busy");
        try {
          await downloadPdf(`/v1/materials/${encodeURIComponent(materialId)}/evidence.pdf`, `${materialId}-evidence.pdf`);
          say("存证证明已下载（PDF），请用 PDF 阅读器打印。", "ok");
        } catch (err) {
          say(`无法生成存证证明：${err.message}`, "error");
        }
      },
    },
    "打印",
  );
}

async function materialsOf(volumeId) {
  const { data } = await api(`/v1/volumes/${encodeURIComponent(volumeId)}/materials`);
  if (!data.length) return null;
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id: "volume-materials" },
      h("caption", {}, `本卷材料（按类号、形成日期排列）：${data.length} 份`),
      h(
        "thead",
        {},
        h("tr", {}, ["类号-顺序号-页码", "题名", "形成日期", "版本", "追溯", "存证证明"].map((t) => h("th", { scope: "col" }, t))),
      ),
      h(
        "tbody",
        {},
        data.map((m) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, m.designation),
            h("td", {}, m.title),
            h("td", {}, timeEl(m.formation_date, true)),
            h("td", { class: "num" }, String(m.version)),
            h(
              "td",
              {},
              h("a", { href: `provenance.html?material=${encodeURIComponent(m.id)}`, "aria-label": `追溯材料：${m.title}` }, "追溯此材料"),
            ),
            h("td", { class: "no-print" }, printEvidence(m.id, `打印：${m.title}`)),
          ),
        ),
      ),
    ),
  );
}

async function trace(kind, id) {
  say("正在查询…", "busy");
  try {
    const base = kind === "volume" ? "/v1/volumes/" : "/v1/materials/";
    const { data } = await api(`${base}${encodeURIComponent(id)}/provenance`);
    const items = data.items || [];
    $("#timeline").replaceChildren(...items.map(item));
    $("#result-title").textContent = `${kind === "volume" ? "案卷" : "材料"} ${id} 的经过（${items.length} 项）`;
    $("#materials").replaceChildren();
    if (kind === "material") {
      $("#materials").replaceChildren(h("p", { class: "no-print" }, printEvidence(id, "打印此材料的存证证明"), " 存证证明（A4 PDF，附二维码）"));
    }
    if (kind === "volume") {
      const table = await materialsOf(id);
      if (table) $("#materials").replaceChildren(h("h2", {}, "本卷材料"), table);
    }
    $("#result").hidden = false;
    const anchored = items.filter((e) => e.proof && e.proof.anchored).length;
    say(`共 ${items.length} 项，其中 ${anchored} 项已锚定上链。`, "ok");
    focus($("#result-title"));
  } catch (err) {
    $("#result").hidden = true;
    say(`无法追溯：${err.message}`, "error");
  }
}

if (who) {
  const form = $("#lookup");
  const input = $("#target-id");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const kind = form.elements.kind.value;
    const id = input.value.trim();
    if (!UUID.test(id)) {
      input.setAttribute("aria-invalid", "true");
      say("请输入案卷或材料的 ID（UUID）。", "error");
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    history.replaceState(null, "", `?${kind}=${encodeURIComponent(id)}`);
    trace(kind, id);
  });
  const volume = param("volume");
  const material = param("material");
  if (volume || material) {
    const kind = volume ? "volume" : "material";
    $(`#kind-${kind}`).checked = true;
    input.value = volume || material;
    trace(kind, input.value);
  }
}
