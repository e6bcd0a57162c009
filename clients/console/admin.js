// 管理: the page each of the three administrators (三员) lands on. What is shown follows
// the role's permissions (transfer/roles.py): the system administrator manages units and
// issues operator keys; the security administrator approves and revokes keys, suspends
// units and handles alerts; the security auditor reads alerts and the read log (利用登记).
import { $, api, badge, can, detailsEl, h, itemsOf, say, sayError, short, startPage, timeEl } from "./console.js";

const who = startPage("admin");
let units = [];
let selected = null;

const ROLE_LEAD = {
  admin: "系统管理员：登记单位、为单位签发经办人员密钥。签发的密钥须经安全保密管理员批准后才能使用；不能查阅档案内容。",
  security: "安全保密管理员：处理安全告警，批准或吊销经办人员密钥，暂停或恢复单位。",
  audit: "安全审计员：查看安全告警和利用登记（谁在何时为何查阅了哪份材料），核验存证回执。",
};
const KEY_ROLE_ZH = { operator: "经办人员", reader: "查阅人", admin: "系统管理员", security: "安全保密管理员", audit: "安全审计员" };
const UNIT_KIND_ZH = { archive_centre: "档案中心", unit: "单位", auditor: "审核单位", admin: "管理部门" };
const ALERT_ZH = {
  integrity: "材料完整性校验失败：读取时内容与存证不符，已拒绝读取。请核查存储与备份。",
  "cadre-main-volume-elsewhere": "有单位试图为已在其他单位建有正本的干部再建正本（可能是探查身份证号）。请向该单位核实。",
  restore_missing_entries: "从备份恢复后，日志中缺少已锚定的条目。请核对备份并联系技术支持。",
};

async function all(path) {
  const items = [];
  let offset = 0;
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const { data } = await api(`${path}${sep}limit=500&offset=${offset}`);
    items.push(...itemsOf(data));
    if (!data || data.next_offset === null || data.next_offset === undefined) return items;
    offset = data.next_offset;
  }
}

function table(id, caption, heads, rows, empty) {
  return rows.length
    ? h(
        "table",
        { id },
        h("caption", {}, caption),
        h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      )
    : h("p", { class: "empty" }, empty);
}

function unitName(id) {
  const u = units.find((x) => x.id === id);
  return u ? `${u.name}（${u.code}）` : short(id, 8);
}

async function post(path, busy, done) {
  say(busy, "busy");
  try {
    await api(path, { method: "POST", body: {} });
    say(done, "ok");
    return true;
  } catch (err) {
    sayError(`${busy.replace(/…$/, "")}失败：`, err);
    return false;
  }
}

// --- units -------------------------------------------------------------------------------

async function loadUnits() {
  units = await all("/v1/units");
  const rows = units.map((u) => {
    const suspended = u.status === "suspended";
    const actions = [
      h("button", { type: "button", class: "secondary", "data-action": "keys", onclick: () => showKeys(u) }, "查看密钥"),
    ];
    if (can(who, "units:suspend") && u.id !== who.unit_id) {
      actions.push(
        " ",
        h(
          "button",
          {
            type: "button",
            class: suspended ? "secondary" : "danger",
            "data-action": suspended ? "reinstate" : "suspend",
            onclick: async () => {
              if (!suspended && !confirm(`确认暂停单位“${u.name}”？暂停后该单位的密钥都不能使用。`)) return;
              const path = `/v1/units/${u.id}/${suspended ? "reinstate" : "suspend"}`;
              if (await post(path, suspended ? "正在恢复单位…" : "正在暂停单位…", suspended ? `已恢复单位“${u.name}”。` : `已暂停单位“${u.name}”。`)) await loadUnits();
            },
          },
          suspended ? "恢复" : "暂停",
        ),
      );
    }
    return h(
      "tr",
      { "data-unit-code": u.code },
      h("th", { scope: "row" }, u.name),
      h("td", {}, h("code", {}, u.code)),
      h("td", {}, UNIT_KIND_ZH[u.kind] || u.kind),
      h("td", {}, suspended ? badge("已暂停", "bad") : badge("正常", "ok")),
      h("td", { class: "row-actions" }, actions),
    );
  });
  $("#units").replaceChildren(table("units-table", `共 ${units.length} 个单位`, ["名称", "代码", "类型", "状态", "操作"], rows, "尚无单位。"));
  $("#units-section").hidden = false;
}

async function addUnit(event) {
  event.preventDefault();
  const code = $("#unit-code");
  const name = $("#unit-name");
  const missing = [];
  for (const [el, label] of [[code, "单位代码"], [name, "单位名称"]]) {
    if (el.value.trim()) el.removeAttribute("aria-invalid");
    else {
      el.setAttribute("aria-invalid", "true");
      missing.push(label);
    }
  }
  if (missing.length) {
    say(`请填写：${missing.join("、")}。`, "error");
    document.querySelector('#unit-form [aria-invalid="true"]').focus();
    return;
  }
  say("正在登记单位…", "busy");
  try {
    const { data } = await api("/v1/units", {
      method: "POST",
      body: { code: code.value.trim(), name: name.value.trim(), kind: $("#unit-kind").value },
    });
    code.value = "";
    name.value = "";
    await loadUnits();
    say(`已登记单位“${data.name}”（${data.code}）。下一步：点“查看密钥”为其签发经办人员密钥。`, "ok");
  } catch (err) {
    sayError("登记单位失败：", err);
  }
}

// --- keys --------------------------------------------------------------------------------

function keyState(k) {
  if (k.revoked_at) return badge("已吊销", "neutral");
  if (!k.approved_at) return badge("待批准", "warn");
  return badge("有效", "ok");
}

async function showKeys(unit, focusIt = true) {
  selected = unit;
  $("#keys-title").textContent = `密钥 · ${unit.name}（${unit.code}）`;
  $("#issued").hidden = true;
  $("#issue-form").hidden = !can(who, "keys:issue");
  $("#keys-section").hidden = false;
  await loadKeys();
  if (focusIt) $("#keys-title").focus();
}

async function loadKeys() {
  const unit = selected;
  try {
    const { data } = await api(`/v1/units/${unit.id}/keys`);
    const keys = itemsOf(data);
    const rows = keys.map((k) => {
      const actions = [];
      // Staff keys (operator, reader) are approved and revoked here; administrators' not.
      const operator = k.role === "operator" || k.role === "reader";
      if (can(who, "keys:approve") && operator && !k.approved_at && !k.revoked_at) {
        actions.push(
          h(
            "button",
            {
              type: "button",
              "data-action": "approve",
              onclick: async () => {
                if (await post(`/v1/units/${unit.id}/keys/${k.id}/approve`, "正在批准密钥…", `已批准密钥 ${k.prefix}…，现在可以使用。`)) await loadKeys();
              },
            },
            "批准",
          ),
          " ",
        );
      }
      if (can(who, "keys:revoke") && operator && !k.revoked_at) {
        actions.push(
          h(
            "button",
            {
              type: "button",
              class: "danger",
              "data-action": "revoke",
              onclick: async () => {
                if (!confirm(`确认吊销密钥 ${k.prefix}…（${k.label || "未署名"}）？吊销后不能恢复。`)) return;
                if (await post(`/v1/units/${unit.id}/keys/${k.id}/revoke`, "正在吊销密钥…", `已吊销密钥 ${k.prefix}…。`)) await loadKeys();
              },
            },
            "吊销",
          ),
        );
      }
      return h(
        "tr",
        { "data-key-id": k.id },
        h("th", { scope: "row" }, h("code", {}, `${k.prefix}…`)),
        h("td", {}, KEY_ROLE_ZH[k.role] || k.role),
        h("td", {}, k.label || "—"),
        h("td", {}, timeEl(k.created_at)),
        h("td", {}, keyState(k)),
        h("td", { class: "row-actions" }, actions.length ? actions : "—"),
      );
    });
    const pending = keys.filter((k) => !k.approved_at && !k.revoked_at).length;
    $("#keys-hint").textContent = pending ? `有 ${pending} 把密钥待安全保密管理员批准。` : "";
    $("#keys").replaceChildren(table("keys-table", `共 ${keys.length} 把密钥`, ["密钥前缀", "角色", "经办人/用途", "签发时间", "状态", "操作"], rows, "该单位没有密钥。"));
  } catch (err) {
    sayError("无法加载密钥：", err);
  }
}

async function issue(event) {
  event.preventDefault();
  const input = $("#issue-label");
  const label = input.value.trim();
  if (!label) {
    input.setAttribute("aria-invalid", "true");
    say("请填写经办人姓名。", "error");
    input.focus();
    return;
  }
  input.removeAttribute("aria-invalid");
  say("正在签发密钥…", "busy");
  try {
    const { data } = await api(`/v1/units/${selected.id}/keys`, { method: "POST", body: { role: $("#issue-role").value, label } });
    input.value = "";
    $("#issued").replaceChildren(
      h("p", {}, h("strong", {}, `已为“${label}”签发密钥（只显示这一次，请立即交给本人保存）：`)),
      h("p", {}, h("code", { id: "issued-key", class: "hex" }, data.key)),
      h("p", {}, "该密钥须经安全保密管理员批准后才能登录使用。"),
    );
    $("#issued").hidden = false;
    say("密钥已签发，待安全保密管理员批准。", "ok");
    await loadKeys();
  } catch (err) {
    sayError("签发密钥失败：", err);
  }
}

// --- alerts and the read log ---------------------------------------------------------------

async function loadAlerts() {
  const only = $("#unacked-only").checked;
  const alerts = await all(`/v1/alerts${only ? "?unacknowledged=true" : ""}`);
  const rows = alerts.map((a) =>
    h(
      "tr",
      { "data-alert-id": a.id },
      h("th", { scope: "row" }, timeEl(a.created_at)),
      h("td", {}, ALERT_ZH[a.kind] || "其他安全告警，请查看详情并联系技术支持。", " ", detailsEl(JSON.stringify({ kind: a.kind, ...a.detail }))),
      h("td", {}, a.acknowledged_at ? badge("已处理", "neutral") : badge("待处理", "bad")),
      h(
        "td",
        { class: "row-actions" },
        can(who, "alerts:ack") && !a.acknowledged_at
          ? h(
              "button",
              {
                type: "button",
                "data-action": "ack",
                onclick: async () => {
                  if (await post(`/v1/alerts/${a.id}/ack`, "正在确认告警…", "告警已确认处理。")) await loadAlerts();
                },
              },
              "确认已处理",
            )
          : "—",
      ),
    ),
  );
  $("#alerts").replaceChildren(
    table("alerts-table", `${only ? "待处理" : "全部"}告警：${alerts.length} 条`, ["时间", "内容", "状态", "操作"], rows, only ? "没有待处理的告警。" : "没有告警。"),
  );
  $("#alerts-section").hidden = false;
}

const PURPOSE_ZH = { "": "—" };

async function loadReadLog() {
  const { data } = await api("/v1/read-log?limit=200");
  const entries = itemsOf(data);
  const rows = entries.map((e) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, timeEl(e.created_at)),
      h("td", {}, unitName(e.unit_id)),
      h("td", {}, h("code", { title: e.material_id }, short(e.material_id, 8))),
      h("td", {}, PURPOSE_ZH[e.purpose] ?? e.purpose),
      h("td", { class: "num" }, e.leaf_index === null ? "待存证" : String(e.leaf_index)),
    ),
  );
  $("#readlog").replaceChildren(
    table("readlog-table", `最近 ${entries.length} 条查阅记录`, ["时间", "单位", "材料", "查阅用途", "日志序号"], rows, "尚无查阅记录。"),
  );
  $("#readlog-section").hidden = false;
}

async function start() {
  $("#lead").textContent = ROLE_LEAD[who.role] || "";
  $("#title").textContent = { admin: "系统管理", security: "安全保密管理", audit: "安全审计" }[who.role] || "管理";
  document.title = `${$("#title").textContent} · 档案公证控制台`;
  $("#issue-form").addEventListener("submit", issue);
  $("#unit-form").addEventListener("submit", addUnit);
  $("#unit-form").hidden = !can(who, "units:write");
  $("#unacked-only").addEventListener("change", () => loadAlerts().catch((err) => sayError("无法加载告警：", err)));
  say("正在加载…", "busy");
  try {
    if (can(who, "alerts:read")) await loadAlerts();
    await loadUnits();
    if (can(who, "read-log:read")) await loadReadLog();
    say("", "info");
  } catch (err) {
    sayError("无法加载：", err);
  }
}

if (who) start();
