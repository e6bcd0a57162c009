// 扫码核验: the page a printed form's QR code opens (docs/qr-format.md). The reference
// is in the URL's fragment (never sent with the page request); it becomes the query of
// GET /v1/check, which needs no API key, and the answer is shown in Chinese.
import { api, badge, focus, h, say } from "./console.js";

const KIND_ZH = {
  transfer: "转递通知单 / 转递材料目录",
  receipt: "回执",
  rejection: "退回单",
  material: "存证证明",
};
const FIELD_ZH = {
  id: "编号",
  c: "链 ID",
  root: "转递包根",
  h: "文书摘要",
  sm3: "材料 SM3 摘要",
  n: "日志位置",
  tx: "链上交易",
};

function claimed(params) {
  const rows = [];
  rows.push(h("dt", {}, "文书类型"), h("dd", {}, KIND_ZH[params.get("t")] || params.get("t") || "—"));
  for (const [key, label] of Object.entries(FIELD_ZH)) {
    const value = params.get(key);
    if (value === null) continue;
    const parts = key === "tx" ? value.split(",") : [value];
    rows.push(
      h("dt", {}, label),
      h("dd", {}, parts.map((p) => h("code", { class: "hex", "data-field": key }, p))),
    );
  }
  return rows;
}

async function run() {
  const fragment = location.hash.slice(1);
  if (!fragment) {
    say("此链接不含核验内容：请扫描文书上的二维码打开本页。", "error");
    return;
  }
  const params = new URLSearchParams(fragment);
  say("正在与区块链记录比对…", "busy");
  let answer;
  try {
    ({ data: answer } = await api(`/v1/check?${fragment}`, { key: null, signInOn401: false }));
  } catch (e) {
    say(e.message, "error");
    return;
  }
  say("", "info");
  document.getElementById("verdict").replaceChildren(
    answer.valid ? badge("✓ 与链上记录一致", "ok") : badge("✗ 与链上记录不符", "bad"),
  );
  document.getElementById("summary").textContent = answer.summary;
  document.getElementById("claimed").replaceChildren(...claimed(params));
  const items = [
    ...answer.mismatches.map((m) =>
      h("li", { "data-check": m.field, "data-ok": "false" }, badge("✗ 不符", "bad"), ` ${m.name}：${m.message}`),
    ),
    ...answer.matched.map((m) =>
      h("li", { "data-check": m.field, "data-ok": "true" }, badge("✓ 一致", "ok"), ` ${m.name}`),
    ),
  ];
  if (answer.blocks.length) items.push(h("li", {}, `链上区块：${answer.blocks.join("、")}`));
  document.getElementById("checks").replaceChildren(...items);
  const section = document.getElementById("result");
  section.hidden = false;
  focus(document.getElementById("result-title"));
}

run();
