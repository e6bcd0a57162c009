// 发起转递: the notice (转递通知单) — volumes held by the unit, receiving unit, reason,
// 密级. Then the transfer's page packages and dispatches it.
import { $, api, h, itemsOf, param, say, sayError, short, startPage, timeEl, VOLUME_KIND_ZH } from "./console.js";

const who = startPage("outgoing");

async function loadVolumes() {
  const items = [];
  let offset = 0;
  for (;;) {
    const { data } = await api(`/v1/volumes?limit=500&offset=${offset}`);
    items.push(...itemsOf(data));
    if (!data || data.next_offset === null || data.next_offset === undefined) break;
    offset = data.next_offset;
  }
  const held = items.filter((v) => v.status === "held");
  const chosen = param("volume");
  $("#volume-choices").replaceChildren(
    held.length
      ? h(
          "ul",
          { class: "plain choices" },
          held.map((v, i) =>
            h(
              "li",
              { class: "field checkbox" },
              h("input", { type: "checkbox", id: `vol-${i}`, value: v.id, name: "volume", checked: v.id === chosen }),
              h(
                "label",
                { for: `vol-${i}` },
                `${VOLUME_KIND_ZH[v.kind] || v.kind} · 案卷 `,
                h("code", { title: v.id }, short(v.id, 8)),
                " · 建档 ",
                timeEl(v.created_at, true),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, "本单位没有可转出的案卷（在库的案卷才能转出）。"),
  );
}

function required(sel, text) {
  const el = $(sel);
  if (el.value.trim()) {
    el.removeAttribute("aria-invalid");
    return false;
  }
  el.setAttribute("aria-invalid", "true");
  return text;
}

async function submit(event) {
  event.preventDefault();
  const missing = [
    required("#transfer-no", "转递编号"),
    required("#receiver", "接收单位代码"),
    required("#reason", "转递原因"),
  ].filter(Boolean);
  const volumes = [...document.querySelectorAll('input[name="volume"]:checked')].map((x) => x.value);
  if (!volumes.length) missing.push("至少选择一卷案卷");
  if (missing.length) {
    say(`请填写：${missing.join("、")}。`, "error");
    const first = document.querySelector('[aria-invalid="true"]') || document.querySelector('input[name="volume"]');
    if (first) first.focus();
    return;
  }
  $("#create-transfer").disabled = true;
  say("正在创建转递通知单…", "busy");
  try {
    const { data } = await api("/v1/transfers", {
      method: "POST",
      body: {
        transfer_no: $("#transfer-no").value.trim(),
        receiver: $("#receiver").value.trim(),
        reason: $("#reason").value.trim(),
        classification: $("#classification").value,
        volume_ids: volumes,
      },
    });
    location.assign(`transfer.html?id=${encodeURIComponent(data.transfer_id)}&created=1`);
  } catch (err) {
    sayError("创建转递失败：", err);
    $("#create-transfer").disabled = false;
  }
}

if (who) {
  $("#send-form").addEventListener("submit", submit);
  loadVolumes().catch((err) => sayError("无法加载案卷：", err));
}
