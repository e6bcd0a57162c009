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
  422: "请求内容有误",
  429: "请求过于频繁",
  500: "服务内部错误",
  503: "服务暂不可用",
};

export class ApiError extends Error {
  constructor(status, problem) {
    const zh = STATUS_ZH[status] || `请求失败（HTTP ${status}）`;
    const detail = problem && typeof problem === "object" ? problem.detail || problem.title : "";
    super(detail ? `${zh}：${detail}` : zh);
    this.status = status;
    this.problem = problem;
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
 * quiet (announced to screen readers, not shown). */
export function say(text, kind = "info") {
  const el = document.getElementById("status");
  if (!el) return;
  el.className = `status status-${kind}`;
  el.textContent = text;
  el.hidden = !text;
}

// --- the shell ---------------------------------------------------------------------------

const NAV = [
  { page: "incoming", href: "transfers.html?role=incoming", label: "收件箱（转入）", needs: "transfers" },
  { page: "outgoing", href: "transfers.html?role=outgoing", label: "发件箱（转出）", needs: "transfers" },
  { page: "volumes", href: "volumes.html", label: "本单位案卷", needs: "volumes:read" },
  { page: "provenance", href: "provenance.html", label: "来源追溯", needs: "materials:read" },
  { page: "verify", href: "verify.html", label: "核验", needs: "verify" },
];

const ROLE_ZH = {
  operator: "经办人员",
  audit: "安全审计员",
  admin: "系统管理员",
  security: "安全保密管理员",
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
        `${who.unit_name || who.unit_code}（${who.unit_code}）· ${ROLE_ZH[who.role] || who.role}`,
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

const TIME = new Intl.DateTimeFormat("zh-CN", {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});
const DAY = new Intl.DateTimeFormat("zh-CN", { year: "numeric", month: "2-digit", day: "2-digit" });

export function fmtTime(value) {
  if (value === null || value === undefined || value === "") return "—";
  const d = typeof value === "number" ? new Date(value) : new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : TIME.format(d);
}

export function fmtDay(value) {
  if (!value) return "—";
  // A calendar date (形成日期) has no time zone: show it as it is.
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : DAY.format(d);
}

/** <time> element with the machine-readable value and a readable text. */
export function timeEl(value, day = false) {
  if (value === null || value === undefined || value === "") return "—";
  const machine = typeof value === "number" ? new Date(value).toISOString() : String(value);
  return h("time", { datetime: machine }, day ? fmtDay(value) : fmtTime(value));
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
  verified: "已核验",
  received: "已签收",
  rejected: "已拒收",
  returned: "已退回",
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
  deadline: (t) => t.deadline ?? (t.notice && t.notice.deadline),
  reason: (t) => (t.notice && t.notice.reason) ?? t.reason ?? "",
  classification: (t) => (t.notice && t.notice.classification) ?? t.classification ?? "",
  volumes: (t) => (t.notice && t.notice.volumes) ?? t.volumes ?? [],
  materials: (t) => (t.notice && t.notice.materials) ?? t.materials ?? [],
  materialCount: (t) =>
    (t.notice && t.notice.material_count) ?? t.material_count ?? transfer.materials(t).length,
  // What is late (GET /v1/transfers/overdue), merged in as t.overdue: [{kind, due, message}].
  overdue: (t) => Array.isArray(t.overdue) && t.overdue.length > 0,
  overdueText: (t) =>
    Array.isArray(t.overdue)
      ? t.overdue
          .map((x) => `${x.message || x.kind}${x.due ? `（应于 ${fmtDay(x.due)} 前）` : ""}`)
          .join("；")
      : "",
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
