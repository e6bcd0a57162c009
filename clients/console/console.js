// Shared parts of the console: the signed-in session, calls to the /v1 API, the page
// shell (skip link, navigation, sign-out), status messages and Chinese labels.
//
// The API key lives in sessionStorage only: it is gone when the tab closes or on sign-out.

const KEY = "archive-notary.console.key";
const WHO = "archive-notary.console.session";

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function currentSession() {
  try {
    return JSON.parse(sessionStorage.getItem(WHO) || "null");
  } catch {
    return null;
  }
}

export function storeSession(key, who) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(WHO, JSON.stringify(who));
}

export function signOut(reason = "signed-out") {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(WHO);
  location.assign(`./?${reason}=1`);
}

export function can(who, permission) {
  return Boolean(who && who.permissions && who.permissions.includes(permission));
}

// --- the API ---------------------------------------------------------------------------

const STATUS_ZH = {
  400: "请求格式有误",
  401: "密钥无效或已撤销",
  403: "无权执行此操作",
  404: "未找到，或不由本单位保管",
  409: "当前状态不允许此操作",
  413: "文件过大",
  415: "文件类型不被接受",
  422: "请求内容有误",
  429: "请求过于频繁",
  500: "服务内部错误",
  503: "服务暂不可用",
};

// Field names of the API's request bodies, as staff call them (for 422 answers).
export const FIELD_ZH = {
  cadre_identifier: "干部身份证号（或建档标识）",
  cadre_name: "干部姓名",
  kind: "正本/副本",
  receiver: "接收单位代码",
  transfer_no: "转递编号",
  reason: "转递原因",
  volume_ids: "案卷",
  classification: "密级",
  category: "类号",
  seq_no: "顺序号",
  pages: "页码",
  title: "题名",
  formation_date: "形成日期",
  file: "文件",
  code: "单位代码",
  name: "单位名称",
  label: "经办人/用途",
  role: "角色",
  detail: "理由",
  reasons: "理由",
  public_key: "单位公钥",
  note: "附言",
  sm3: "SM3 摘要",
  receipt: "证据回执",
  purpose: "利用目的",
};

// Events of the transfer state machine, as in a refusal "当前状态为 X，不能执行 Y".
const EVENT_VERB_ZH = {
  package: "打包",
  dispatch: "转出",
  deliver: "送达",
  verify: "四性检测",
  accept: "签收回执",
  reject: "拒收",
  return: "退回",
  recall: "撤回",
};

// English details the service may send, in words a clerk can act on.
const DETAIL_ZH = [
  [/first bytes match no accepted type/i, "文件类型不被接受：只接受 PDF、TIFF、JPEG、PNG 或 OFD 文件（按文件内容判断，不看扩展名）。"],
  [/SelfDispatch/i, "不能转递给本单位自己，请选择其他接收单位。"],
  [/unknown (receiving )?unit|no unit/i, "接收单位代码不存在，请核对。"],
  [/empty once whitespace is removed/i, "干部身份证号不能为空。"],
  [/a unit with code .* already exists/i, "该单位代码已登记，请核对（单位代码在本部署中唯一）。"],
  [/cannot revoke itself/i, "不能吊销自己正在使用的密钥。"],
  [/cannot be suspended with one of its own keys/i, "不能用本单位的密钥暂停本单位。"],
  [/issued on the server console/i, "管理员（三员）的密钥只能在服务器控制台签发。"],
];

const hasChinese = (text) => /[\u4e00-\u9fff]/.test(String(text || ""));

/** A problem document (RFC 9457) in Chinese: { text, detail } where detail is the
 * original wording when it was not Chinese (shown only behind 详情). */
export function problemText(status, problem) {
  const zh = STATUS_ZH[status] || `请求失败（错误代码 ${status}）`;
  if (!problem || typeof problem !== "object") {
    return { text: zh, detail: problem ? String(problem).slice(0, 500) : "" };
  }
  const raw = String(problem.detail || problem.title || "");
  if (Array.isArray(problem.errors) && problem.errors.length && hasChinese(raw)) {
    // The service names each field and what is wrong with it (填写有误，请检查：转递编号（不能为空）).
    return { text: /[。！？]$/.test(raw) ? raw : `${raw}。`, detail: JSON.stringify(problem.errors.map(({ loc, msg, type }) => ({ loc, msg, type }))) };
  }
  if (Array.isArray(problem.errors) && problem.errors.length) {
    const fields = [
      ...new Set(
        problem.errors.map((e) => {
          const loc = Array.isArray(e.loc) ? e.loc.filter((x) => typeof x === "string" && x !== "body") : [];
          const name = loc[loc.length - 1] || "";
          return FIELD_ZH[name] || (hasChinese(name) ? name : "某一项");
        }),
      ),
    ];
    const specific = DETAIL_ZH.find(([re]) => re.test(JSON.stringify(problem.errors)));
    return {
      text: `填写有误，请检查：${fields.join("、")}${specific ? `（${specific[1]}）` : ""}`,
      detail: JSON.stringify(problem.errors),
    };
  }
  const refused = /当前状态为 (\w+)，不能执行 (\w+)/.exec(raw);
  if (refused) {
    const [, st, ev] = refused;
    return {
      text: `${zh}：当前状态为“${STATE_ZH[st] || st}”，不能${EVENT_VERB_ZH[ev] || ev}。请刷新页面查看最新状态。`,
      detail: raw,
    };
  }
  // The service's own Chinese sentence is the most specific one.
  if (hasChinese(raw)) return { text: /[。！？]$/.test(raw) ? raw : `${raw}。`, detail: "" };
  const known = DETAIL_ZH.find(([re]) => re.test(raw));
  if (known) return { text: known[1], detail: raw };
  return { text: zh, detail: raw };
}

export class ApiError extends Error {
  constructor(status, problem) {
    const { text, detail } = problemText(status, problem);
    super(text);
    this.status = status;
    this.problem = problem;
    this.detail = detail;
  }
}

/** Call the API with the session's key. JSON in, JSON out; errors throw ApiError. */
export async function api(
  path,
  { method = "GET", body, rawBody, key = apiKey(), signInOn401 = true } = {},
) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined || rawBody !== undefined) {
    headers["Content-Type"] = "application/json";
    // rawBody: JSON text sent as it is (a receipt file, whose bytes the API reads).
    init.body = rawBody !== undefined ? rawBody : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { detail: "无法连接服务" });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (response.status === 401 && signInOn401 && key) signOut("expired");
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data };
}

/** The items of a list answer, whether it is a page ({items}) or a plain array. */
export function itemsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}

// --- building the DOM without innerHTML ------------------------------------------------

/** h("a", {href: "x", class: "y"}, "text", child, …): an element; null children skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function $(selector) {
  return document.querySelector(selector);
}

// --- status messages (aria-live) --------------------------------------------------------

/** Show a message in the page's live region (#status). kind: info | ok | error | busy |
 * quiet (announced to screen readers, not shown). detail: technical wording (English,
 * hex) kept behind a 详情 toggle, never in the sentence itself. */
export function say(text, kind = "info", detail = "") {
  const el = document.getElementById("status");
  if (!el) return;
  el.className = `status status-${kind}`;
  el.replaceChildren(text);
  if (detail) el.append(" ", detailsEl(detail));
  el.hidden = !text;
}

/** Say what failed: the error's Chinese sentence, its original wording behind 详情. */
export function sayError(prefix, err) {
  say(`${prefix}${err && err.message ? err.message : err}`, "error", (err && err.detail) || "");
}

/** A closed 详情 toggle holding technical text. */
export function detailsEl(detail) {
  return h("details", { class: "more" }, h("summary", {}, "详情"), h("code", { class: "detail" }, String(detail)));
}

// --- the shell ---------------------------------------------------------------------------

const NAV = [
  { page: "incoming", href: "transfers.html?role=incoming", label: "收件箱（转入）", needs: "transfers" },
  { page: "outgoing", href: "transfers.html?role=outgoing", label: "发件箱（转出）", needs: "transfers" },
  { page: "volumes", href: "volumes.html", label: "本单位案卷", needs: "volumes:read" },
  { page: "provenance", href: "provenance.html", label: "来源追溯", needs: "materials:read" },
  { page: "admin", href: "admin.html", label: "管理", needs: "units:read" },
  { page: "read", href: "read.html", label: "在线阅档", needs: "read-grants:apply" },
  { page: "grants", href: "grants.html", label: "查阅审批", needs: "read-grants:decide" },
  { page: "grants-audit", href: "grants.html", label: "查阅授权", needs: "read-grants:audit" },
  { page: "verify", href: "verify.html", label: "核验", needs: "verify" },
];

const ROLE_ZH = {
  operator: "经办人员",
  audit: "安全审计员",
  admin: "系统管理员",
  security: "安全保密管理员",
  reader: "查阅人",
};

/** The first page a role may use (after sign-in). */
export function homeFor(who) {
  const first = NAV.find((n) => can(who, n.needs));
  return first ? first.href : "verify.html";
}

/**
 * Start a signed-in page: go to sign-in without a key, draw the header, check the role
 * may use the page. Returns the session, or null when the page must not be used.
 */
export function startPage(page) {
  const who = currentSession();
  if (who) setTimeZone(who.timezone, who.timezone_label);
  if (!apiKey() || !who) {
    const next = location.pathname.split("/").pop() + location.search;
    location.replace(`./?next=${encodeURIComponent(next)}`);
    return null;
  }
  const bar = document.getElementById("bar");
  const links = NAV.filter((n) => can(who, n.needs)).map((n) =>
    h(
      "li",
      {},
      h("a", { href: n.href, "aria-current": n.page === page ? "page" : null }, n.label),
    ),
  );
  bar.replaceChildren(
    h("a", { class: "brand", href: homeFor(who) }, "档案公证 · 控制台"),
    h("nav", { "aria-label": "主导航" }, h("ul", {}, links)),
    h(
      "div",
      { class: "who" },
      h(
        "span",
        { id: "who" },
        `${who.unit_name || who.unit_code}（${who.unit_code}）· ${ROLE_ZH[who.role] || who.role}` +
          (who.role === "operator" ? ` · 经办人 ${handlerText(who.handler)}` : ""),
      ),
      h("button", { type: "button", id: "sign-out", class: "secondary", onclick: () => signOut() }, "退出登录"),
    ),
  );
  const entry = NAV.find((n) => n.page === page);
  if (entry && !can(who, entry.needs)) {
    say(`您的角色（${ROLE_ZH[who.role] || who.role}）无权使用此页面。`, "error");
    return null;
  }
  return who;
}

/** Put the keyboard focus on an element (headings get tabindex=-1 for this). */
export function focus(el) {
  if (!el) return;
  if (!el.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) {
    el.setAttribute("tabindex", "-1");
  }
  el.focus();
}

export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

// --- formatting and labels -----------------------------------------------------------------

// Times are shown in the deployment's time zone (Settings.timezone, default Asia/Shanghai:
// 北京时间), whatever the browser's zone, as YYYY-MM-DD HH:MM followed by the zone's label —
// the same as the CLI and the printed forms. The zone comes with the session
// (/console/api/session) or, on pages without sign-in, from GET /v1/display.
export let TIME_ZONE = "Asia/Shanghai";
export let TIME_ZONE_ZH = "北京时间";
let PARTS = null;

export function setTimeZone(name, label) {
  if (!name) return;
  try {
    new Intl.DateTimeFormat("en-CA", { timeZone: name });
  } catch {
    return; // a zone this browser does not know: keep the default
  }
  TIME_ZONE = name;
  TIME_ZONE_ZH = label || name;
  PARTS = null;
}

function parts(d) {
  if (!PARTS) {
    PARTS = new Intl.DateTimeFormat("en-CA", {
      timeZone: TIME_ZONE,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
  }
  return Object.fromEntries(PARTS.formatToParts(d).map((p) => [p.type, p.value]));
}

/** YYYY-MM-DD HH:MM in the deployment's zone (no label: see timeEl, labelledTime). */
export function fmtTime(value) {
  if (value === null || value === undefined || value === "") return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const p = parts(d);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** 2026-12-05 14:03（北京时间）: how a time is written in running text. */
export function labelledTime(value) {
  const text = fmtTime(value);
  return text === "—" ? text : `${text}（${TIME_ZONE_ZH}）`;
}

export function fmtDay(value) {
  if (!value) return "—";
  // A calendar date (形成日期) has no time zone: show it as it is.
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const p = parts(d);
  return `${p.year}-${p.month}-${p.day}`;
}

/** <time> element with the machine-readable value and a readable text: a time with its
 * zone's label, a day (day = true) as YYYY-MM-DD. */
export function timeEl(value, day = false) {
  if (value === null || value === undefined || value === "") return "—";
  const machine = typeof value === "number" ? new Date(value).toISOString() : String(value);
  return h("time", { datetime: machine, title: TIME_ZONE_ZH }, day ? fmtDay(value) : labelledTime(value));
}

/** 经办人: the name a key was issued for; keys issued without one say 未登记. */
export function handlerText(name) {
  return name ? String(name) : "未登记";
}

export function short(id, n = 8) {
  const s = String(id || "");
  return s.length > n + 1 ? `${s.slice(0, n)}…` : s;
}

/** A hex value shown short, full value in the title and kept for copying. */
export function hexEl(value, n = 16) {
  if (!value) return "—";
  return h("code", { class: "hex", title: String(value) }, short(value, n));
}

export const STATE_ZH = {
  created: "已创建",
  packaged: "已打包",
  dispatched: "已转出",
  delivered: "已送达",
  verified: "已检测",
  received: "已签收",
  rejected: "已拒收",
  returned: "已退回",
};

// A dispatch's outcome as the contract records it (clients/vocabulary.py CHAIN_OUTCOME_ZH).
export const CHAIN_OUTCOME_ZH = {
  pending: "待答复",
  received: "已签收",
  rejected: "已拒收",
  returned: "已退回",
  recalled: "已撤回",
};

export const VOLUME_KIND_ZH = { main: "正本", copy: "副本" };
export const VOLUME_STATUS_ZH = {
  held: "在库",
  in_transfer: "转递中",
  transferred_out: "已转出",
};

export const PROPERTIES = [
  ["authenticity", "真实性"],
  ["completeness", "完整性"],
  ["usability", "可用性"],
  ["security", "安全性"],
];

// 在线阅档: a read grant's state (transfer/services/read_grants.py) and a verified read's
// checks (X-Notary-Checks), each with the property (四性) it shows.
export const GRANT_STATE_ZH = {
  pending: "待审批",
  approved: "有效",
  expired: "已过期",
  refused: "未批准",
  revoked: "已撤销",
};
export const GRANT_STATE_KIND = { pending: "warn", approved: "ok", expired: "neutral", refused: "bad", revoked: "bad" };
export const READ_CHECK_ZH = {
  content: ["完整性", "密文各块与登记的内容标识一致"],
  envelope: ["安全性", "用保管单位密钥解封，SM4 密文完整"],
  sm3: ["真实性", "内容的 SM3 摘要与登记存证时一致"],
  log: ["真实性", "存证日志中有这份材料（包含证明有效）"],
  anchor: ["真实性", "存证已锚定上链，与链上记录一致"],
};

export const CHECK_ZH = { pass: "通过", fail: "不通过", skipped: "未能检查" };

// The receiver's checks (docs/transfer-format.md §4.3), in words.
export const CHECK_NAME_ZH = {
  manifest: "清单摘要",
  cid: "内容标识",
  sm3: "SM3 摘要",
  "log-proof": "存证证明",
  anchor: "链上锚定",
  "content-sm3": "内容摘要",
  notice: "通知单",
  listed: "在清单中",
  catalogue: "在目录中",
  present: "材料存在",
  size: "大小",
  counts: "份数",
  extra: "多余文件",
  "payload-oxum": "载荷统计",
  opens: "可正常打开",
  "key-unwrap": "密钥解封",
  "gcm-tag": "密文完整",
  "dispatch-signature": "转出签名",
  recipient: "收件单位",
};

// Each check's failure as a sentence a clerk can act on: what is wrong, what to do next.
export const CHECK_ADVICE_ZH = {
  manifest: "转递包的清单摘要与转出时签名的不一致，包在途中被改动或不完整。请拒收，并请转出单位重新转递。",
  cid: "材料的内容标识与清单不符，收到的不是转出时的那份内容。请拒收。",
  sm3: "材料内容与登记存证时的 SM3 摘要不符，材料被改动过。请拒收，并写明该份材料。",
  "content-sm3": "材料内容与登记存证时的摘要不符，材料被改动过。请拒收，并写明该份材料。",
  "log-proof": "这份材料的存证证明无法验证（日志中查不到或证明无效）。请拒收，并请转出单位核查存证。",
  anchor: "存证尚未锚定上链，或与链上记录不符。可稍后再点“核验材料”；仍不通过请拒收。",
  notice: "通知单与转递包不一致。请拒收，并请转出单位重新出具通知单。",
  listed: "这份材料不在转递包清单中。请拒收，并写明该份材料。",
  catalogue: "这份材料不在通知单的材料目录中。请拒收，并写明该份材料。",
  present: "转递包中缺少这份材料。请拒收，并请转出单位补齐后重新转递。",
  size: "材料大小与清单不符，文件不完整。请拒收。",
  counts: "材料份数与通知单不符。请拒收，并写明实收份数。",
  extra: "转递包中有通知单未列出的多余文件。请拒收，并请转出单位核对。",
  "payload-oxum": "转递包的文件数或总大小与清单不符（缺文件或有多余文件）。请拒收。",
  opens: "这份材料无法正常打开（文件损坏或格式不符）。请拒收，并请转出单位重新提供。",
  "key-unwrap": "无法用本单位的密钥解封材料：转递包不是发给本单位的，或密钥不匹配。请联系转出单位。",
  "gcm-tag": "材料密文完整性校验失败，材料在途中被改动或损坏。可请转出单位再送达一份；仍不通过请拒收。",
  "dispatch-signature": "转出签名无效，无法确认通知单出自转出单位。请拒收。",
  recipient: "这次转递的接收单位不是本单位。请拒收。",
};

/** A failed or skipped check as {text, detail}: the sentence, and the technical wording
 * (check name, English detail, hex) for 详情. */
export function checkSentence(c, forSender = false) {
  const prop = Object.fromEntries(PROPERTIES)[c.property] || "";
  const name = CHECK_NAME_ZH[c.check] || "检查";
  let advice = CHECK_ADVICE_ZH[c.check] || `${name}未通过。请拒收，并写明该项。`;
  // The sender reads what was wrong, and its own next step (not the receiver's).
  if (forSender) advice = `${advice.split("。")[0]}。请核对该份材料，补正后重新转递。`;
  const text =
    c.status === "skipped"
      ? `${prop ? `${prop}：` : ""}${name}未能检查（前一项检查未通过，无法进行），请按前一项的提示处理。`
      : `${prop ? `${prop}：` : ""}${advice}`;
  return { text, detail: [c.check, c.status, c.detail].filter(Boolean).join(" · ") };
}

/** A badge: text always says the meaning (colour is never the only cue). */
export function badge(text, kind = "neutral") {
  return h("span", { class: `badge badge-${kind}` }, text);
}

export function checkBadge(status) {
  const kind = status === "pass" ? "ok" : status === "fail" ? "bad" : "warn";
  const mark = status === "pass" ? "✓ " : status === "fail" ? "✗ " : "? ";
  return badge(mark + (CHECK_ZH[status] || status || "—"), kind);
}

/** Save a JSON document as a file download. */
export function downloadJson(doc, filename) {
  const blob = new Blob([JSON.stringify(doc, null, 2) + "\n"], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// --- transfers (转递): reading the API's documents --------------------------------------

function unitOf(value) {
  if (value && typeof value === "object") return { code: value.code || "", name: value.name || "" };
  return { code: value ? String(value) : "", name: "" };
}

/** Uniform access to a transfer document (GET /v1/transfers/{id}): the notice's fields,
 * state and deadline. Units come from the notice ({code, name}); the top-level
 * sender/receiver are codes. */
export const transfer = {
  id: (t) => String(t.transfer_id ?? t.id ?? ""),
  no: (t) => t.transfer_no ?? (t.notice && t.notice.transfer_no) ?? "",
  sender: (t) => unitOf((t.notice && t.notice.sender) ?? t.sender),
  receiver: (t) => unitOf((t.notice && t.notice.receiver) ?? t.receiver),
  state: (t) => String(t.state ?? ""),
  created: (t) => t.created_at ?? (t.notice && t.notice.created_at),
  reason: (t) => (t.notice && t.notice.reason) ?? t.reason ?? "",
  classification: (t) => (t.notice && t.notice.classification) ?? t.classification ?? "",
  volumes: (t) => (t.notice && t.notice.volumes) ?? t.volumes ?? [],
  materials: (t) => (t.notice && t.notice.materials) ?? t.materials ?? [],
  materialCount: (t) =>
    (t.notice && t.notice.material_count) ?? t.material_count ?? transfer.materials(t).length,
  // What is late (GET /v1/transfers/overdue), merged in as t.overdue: [{kind, due, message}].
  overdue: (t) => Array.isArray(t.overdue) && t.overdue.length > 0,
  // What is late, in the words of the side reading it: the sender chases (催办), the
  // receiver is told its own obligation (核验并签收或拒收).
  overdueText: (t, incoming = false) =>
    Array.isArray(t.overdue)
      ? t.overdue
          .map((x) => `${(OVERDUE_ZH[x.kind] || {})[incoming ? "receiver" : "sender"] || x.message || "已逾期"}${x.due ? `（应于 ${fmtDay(x.due)} 前）` : ""}`)
          .join("；")
      : "",
  // The deadline the 期限 column shows: the one that is late when something is, so the
  // date and the 逾期 mark always refer to the same rule; otherwise the transfer's own.
  deadline: (t) => {
    const dues = Array.isArray(t.overdue) ? t.overdue.map((x) => x.due).filter(Boolean).sort() : [];
    return dues[0] ?? t.deadline ?? (t.notice && t.notice.deadline);
  },
};

// Overdue kinds (transfer/workflow/state.py OverdueKind), as each side reads them.
export const OVERDUE_ZH = {
  "sender-late": { sender: "本单位逾期未转出，请尽快打包转出", receiver: "转出单位逾期未转递" },
  "receiver-late": { sender: "接收单位逾期未审核，请催办", receiver: "本单位逾期未审核，请尽快核验并签收回执或拒收" },
  "no-receipt": { sender: "逾期未收到回执，请催办", receiver: "转出已逾一个月仍未签收回执，请尽快核验并签收或拒收" },
};

/** The caller's overdue transfers: transfer id → [{kind, due, message}]; null when the
 * service cannot say now (the transfers are still shown, with a warning). */
export async function overdueMap() {
  let data;
  try {
    ({ data } = await api("/v1/transfers/overdue"));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw err;
    return null;
  }
  const map = new Map();
  for (const entry of itemsOf(data)) {
    const t = entry.transfer || {};
    map.set(String(t.transfer_id ?? t.id ?? ""), entry.overdue || []);
  }
  return map;
}

export function unitText(u) {
  if (!u || !u.code) return "—";
  return u.name ? `${u.name}（${u.code}）` : u.code;
}

export function stateBadge(state) {
  const kind = { received: "ok", rejected: "bad", returned: "bad", verified: "ok" }[state] || "neutral";
  return badge(STATE_ZH[state] || state || "—", kind);
}

export function overdueBadge(detail = "") {
  const b = badge("⚠ 逾期", "bad");
  if (detail) b.title = detail;
  return detail ? h("span", {}, b, " ", h("span", { class: "overdue-detail" }, detail)) : b;
}

// --- printable forms (A4 PDF, docs/qr-format.md) ---------------------------------------

/** Fetch a printable form with the session's key and save it as a file download: the
 * PDF is the form to print (the console pages themselves print without their controls). */
export async function downloadPdf(path, filename, body = null) {
  const headers = { Accept: "application/pdf, application/problem+json" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  const init = { headers, cache: "no-store", credentials: "omit" };
  if (body) {
    // Names to print travel in a POST body, never in the URL (docs/forms.md).
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { detail: "无法连接服务" });
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  const url = URL.createObjectURL(await response.blob());
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
