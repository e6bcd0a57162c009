// 核验: hash a file in the browser (SM3), ask POST /v1/verify {"sm3"}, show where and when
// it was registered and anchored, and offer its evidence receipt as a JSON download.
import {
  $,
  api,
  badge,
  checkBadge,
  downloadJson,
  focus,
  h,
  hexEl,
  say,
  startPage,
  timeEl,
} from "./console.js";
import { sm3File } from "./sm3.js";

const who = startPage("verify");
const HEX64 = /^[0-9a-fA-F]{64}$/;
let lastSm3 = null;

function fmtBytes(n) {
  if (n < 1024) return `${n} 字节`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1 << 20)).toFixed(1)} MB`;
}

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value ?? "—")];
}

function chainFacts(anchor) {
  if (!anchor) return [];
  return [
    ...fact("链 ID", String(anchor.chain_id)),
    ...fact("合约地址", h("code", { class: "hex" }, anchor.contract)),
    ...fact("区块号", String(anchor.block_number)),
    ...fact("交易哈希", h("code", { class: "hex", "data-field": "tx-hash" }, anchor.tx_hash)),
  ];
}

function registrationCard(reg, index, sm3) {
  const anchored = reg.anchored;
  const cp = reg.checkpoint;
  const title = `登记 ${index + 1}：${reg.unit || "未知单位"}，第 ${reg.version} 版`;
  const download = reg.receipt
    ? h(
        "button",
        {
          type: "button",
          class: anchored ? "" : "secondary",
          "data-action": "download-receipt",
          onclick: () => {
            downloadJson(reg.receipt, `receipt-${sm3.slice(0, 16)}-${reg.material_id}.json`);
            say("存证回执已下载（JSON）。", "ok");
          },
        },
        anchored ? "下载存证回执（JSON）" : "下载回执（待锚定，JSON）",
      )
    : h("p", { class: "hint" }, "尚无检查点：回执在下一次检查点签署后可下载。");
  return h(
    "article",
    { class: "card registration", "aria-label": title },
    h(
      "h3",
      {},
      title,
      " ",
      anchored ? badge("已锚定上链", "ok") : badge("待锚定", "warn"),
      " ",
      reg.current ? badge("当前版本", "neutral") : badge("已被更正", "warn"),
    ),
    h(
      "dl",
      { class: "facts" },
      ...fact("登记单位", reg.unit),
      ...fact("登记时间", timeEl(reg.registered_at)),
      ...fact("材料 ID", h("code", {}, reg.material_id)),
      ...fact("类号", reg.category),
      ...fact("日志序号", reg.leaf_index === null ? "—" : String(reg.leaf_index)),
      ...fact(
        "检查点",
        cp ? h("span", {}, `树大小 ${cp.tree_size}，根 `, hexEl(cp.root, 16)) : "尚未签署",
      ),
      ...fact("锚定时间", anchored ? timeEl(reg.anchored_at) : "待锚定"),
      ...chainFacts(reg.chain),
    ),
    h("div", { class: "actions" }, download),
  );
}

function showResult(doc, source) {
  const section = $("#result");
  const verdict = $("#verdict");
  let text;
  if (!doc.found) {
    verdict.replaceChildren(badge("✗ 未登记", "bad"));
    text = "未找到此摘要的存证登记。";
  } else if (doc.anchored) {
    verdict.replaceChildren(badge("✓ 已登记并已锚定上链", "ok"));
    text = `已登记并已锚定上链（${doc.registrations.length} 次登记）。`;
  } else {
    verdict.replaceChildren(badge("已登记，待锚定", "warn"));
    text = "已登记，尚未锚定上链（锚定通常在几秒内完成）。";
  }
  verdict.firstChild.classList.add("verdict");
  const facts = h(
    "dl",
    { class: "facts card" },
    ...(source.name ? fact("文件", `${source.name}（${fmtBytes(source.size)}）`) : []),
    ...fact("SM3", h("code", { id: "result-sm3" }, doc.sm3)),
    ...fact("摘要计算", source.name ? "在本浏览器内计算，文件未上传" : "手工输入"),
  );
  const regs = doc.registrations.map((reg, i) => registrationCard(reg, i, doc.sm3));
  $("#result-body").replaceChildren(facts, ...regs);
  section.hidden = false;
  say(`核验完成：${text}`, doc.found ? (doc.anchored ? "ok" : "info") : "error");
  focus($("#result-title"));
}

async function verifyDigest(sm3, source = {}) {
  say("正在核验…", "busy");
  try {
    const { data } = await api("/v1/verify", { method: "POST", body: { sm3: sm3.toLowerCase() } });
    lastSm3 = data.sm3;
    showResult(data, source);
  } catch (err) {
    say(`核验失败：${err.message}`, "error");
  }
}

async function verifyFile(file) {
  const progress = $("#progress");
  progress.hidden = false;
  progress.value = 0;
  say(`正在计算 ${file.name} 的 SM3 摘要…`, "busy");
  try {
    const digest = await sm3File(file, (done, total) => {
      progress.value = total ? done / total : 1;
    });
    await verifyDigest(digest, { name: file.name, size: file.size });
  } catch (err) {
    say(`无法读取文件：${err.message}`, "error");
  } finally {
    progress.hidden = true;
  }
}

if (who) {
  const input = $("#file");
  input.addEventListener("change", () => {
    if (input.files.length) verifyFile(input.files[0]);
  });

  // Dropping anywhere on the page works; the zone shows where.
  const zone = $("#dropzone");
  const stop = (e) => {
    e.preventDefault();
    e.stopPropagation();
  };
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (e) => {
      stop(e);
      zone.classList.add("dragging");
    });
  }
  document.addEventListener("dragleave", (e) => {
    if (e.target === document.documentElement || !e.relatedTarget) zone.classList.remove("dragging");
  });
  document.addEventListener("drop", (e) => {
    stop(e);
    zone.classList.remove("dragging");
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) verifyFile(files[0]);
  });

  const sm3Input = $("#sm3");
  $("#sm3-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = sm3Input.value.trim();
    if (!HEX64.test(value)) {
      sm3Input.setAttribute("aria-invalid", "true");
      say("SM3 摘要应为 64 位十六进制字符。", "error");
      sm3Input.focus();
      return;
    }
    sm3Input.removeAttribute("aria-invalid");
    verifyDigest(value);
  });

  const receiptInput = $("#receipt-file");
  receiptInput.addEventListener("change", async () => {
    const out = $("#receipt-result");
    const file = receiptInput.files[0];
    if (!file) return;
    const text = await file.text();
    try {
      JSON.parse(text);
    } catch {
      say("回执文件不是有效的 JSON。", "error");
      return;
    }
    say("正在核验回执…", "busy");
    // The file's own text goes to the API, whose strict parser reads it: re-encoding
    // JSON.parse's object would silently drop a repeated key (issue 21).
    const rawBody = `{"receipt":${text}${lastSm3 ? `,"sm3":"${lastSm3}"` : ""}}`;
    try {
      const { data } = await api("/v1/verify", { method: "POST", rawBody });
      const anchor = data.anchor;
      out.replaceChildren(
        h(
          "dl",
          { class: "facts" },
          ...fact("结论", checkBadge("pass")),
          ...fact("与文件摘要相符", data.material_checked ? "是（已比对）" : "未比对（先核验文件）"),
          ...fact("日志序号", String(data.leaf_index)),
          ...fact("检查点", h("span", {}, `树大小 ${data.tree_size}，根 `, hexEl(data.root, 16))),
          ...fact("本部署的日志", data.this_log ? "是" : "否（其他部署签署）"),
          ...fact("链上锚定", anchor ? `区块 ${anchor.block_number}，锚定者 ${anchor.anchored_by}` : "未锚定"),
          ...(anchor ? fact("锚定时间", timeEl(anchor.block_timestamp * 1000)) : []),
        ),
      );
      say("回执核验通过。", "ok");
    } catch (err) {
      out.replaceChildren(h("p", {}, checkBadge("fail"), " ", err.message));
      say(`回执核验未通过：${err.message}`, "error");
    }
  });
}
