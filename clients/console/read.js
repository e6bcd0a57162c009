// 在线阅档 (reader): apply to read categories of volumes (查阅申请), see one's grants,
// open a volume under a valid grant and view each material page by page. Every page is
// a verified, logged read (GET /v1/materials/{id}/pages/{n}); the checks are shown in
// plain words. Pages come as images over fetch (the key is a header, never in a URL)
// and are shown as data: URLs (the console's CSP allows no blob: images).
import {
  $,
  ApiError,
  GRANT_STATE_KIND,
  GRANT_STATE_ZH,
  READ_CHECK_ZH,
  api,
  apiKey,
  badge,
  focus,
  h,
  itemsOf,
  say,
  sayError,
  short,
  startPage,
  timeEl,
} from "./console.js";

const CATEGORIES = ["1", "2", "3", "4-1", "4-2", "4-3", "4-4", "5", "6", "7", "8", "9-1", "9-2", "9-3", "9-4", "10"];
const who = startPage("read");
let viewing = null; // { material, page, count }

function localInput(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function drawForm() {
  $("#apply-categories").replaceChildren(
    ...CATEGORIES.map((c) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "category", value: c, id: `cat-${c}` }), ` 第 ${c} 类`),
    ),
  );
  $("#apply-until").value = localInput(new Date(Date.now() + 7 * 86400000));
}

async function submitApplication(event) {
  event.preventDefault();
  const volumes = $("#apply-volumes").value.split(/\s+/).map((s) => s.trim()).filter(Boolean);
  const categories = [...document.querySelectorAll("input[name=category]:checked")].map((i) => i.value);
  const purpose = $("#apply-purpose").value.trim();
  const until = $("#apply-until").value;
  const missing = [
    volumes.length ? null : "案卷编号",
    categories.length ? null : "查阅类别",
    purpose ? null : "利用目的",
    until ? null : "查阅截止时间",
  ].filter(Boolean);
  if (missing.length) {
    say(`请填写：${missing.join("、")}。`, "error");
    return;
  }
  $("#apply").disabled = true;
  say("正在提交…", "busy");
  try {
    await api("/v1/read-grants", {
      method: "POST",
      body: { volume_ids: volumes, categories, purpose, expires_at: new Date(until).toISOString() },
    });
    say("查阅申请已提交，等待保管单位审批。", "ok");
    $("#apply-form").reset();
    drawForm();
    await loadGrants();
  } catch (err) {
    sayError("提交失败：", err);
  } finally {
    $("#apply").disabled = false;
  }
}

function grantRow(g) {
  return h(
    "tr",
    { "data-grant-id": g.id },
    h("td", {}, badge(GRANT_STATE_ZH[g.state] || g.state, GRANT_STATE_KIND[g.state] || "neutral")),
    h("td", {}, `${g.holder_unit_name || ""}（${g.holder_unit_code || ""}）`),
    h("td", {}, g.volume_ids.map((v) => h("code", { class: "hex", title: v }, short(v)))),
    h("td", {}, g.categories.map((c) => `第 ${c} 类`).join("、")),
    h("td", {}, g.purpose),
    h("td", {}, timeEl(g.expires_at)),
    h(
      "td",
      { class: "row-actions" },
      g.state === "approved"
        ? h("button", { type: "button", "data-action": "open", onclick: () => openGrant(g) }, "打开案卷")
        : g.state === "refused" && g.refusal_reason
          ? `理由：${g.refusal_reason}`
          : null,
    ),
  );
}

async function loadGrants() {
  try {
    const { data } = await api("/v1/read-grants");
    const items = itemsOf(data);
    $("#grants").replaceChildren(
      items.length
        ? h(
            "table",
            { id: "grant-list" },
            h("caption", {}, "查阅申请（最新在前）"),
            h(
              "thead",
              {},
              h("tr", {}, ["状态", "保管单位", "案卷", "类别", "利用目的", "截止时间", "操作"].map((t) => h("th", { scope: "col" }, t))),
            ),
            h("tbody", {}, items.map(grantRow)),
          )
        : h("p", { class: "empty" }, "还没有查阅申请。"),
    );
  } catch (err) {
    sayError("无法加载查阅申请：", err);
  }
}

async function openGrant(g) {
  say("正在打开案卷…", "busy");
  try {
    const { data } = await api(`/v1/read-grants/${g.id}/materials`);
    const items = itemsOf(data);
    $("#viewer").hidden = false;
    $("#page-area").hidden = true;
    $("#materials").replaceChildren(
      items.length
        ? h(
            "table",
            { id: "material-list" },
            h("caption", {}, `授权可查阅的材料（按类号、序号排列），截止 `, timeEl(g.expires_at)),
            h("thead", {}, h("tr", {}, ["类号-序号", "题名", "页数", "操作"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              items.map((m) =>
                h(
                  "tr",
                  { "data-material-id": m.id },
                  h("td", {}, `${m.category}-${m.seq_no}`),
                  h("td", {}, m.title),
                  h("td", {}, String(m.pages)),
                  h("td", {}, h("button", { type: "button", "data-action": "view", onclick: () => view(m, 1) }, "阅览")),
                ),
              ),
            ),
          )
        : h("p", { class: "empty" }, "授权的类别中没有材料，或授权已失效。"),
    );
    say(`已打开案卷，共 ${items.length} 份可查阅的材料。`, "ok");
    focus($("#viewer-title"));
  } catch (err) {
    sayError("无法打开案卷：", err);
  }
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function showChecks(response) {
  const checks = (response.headers.get("X-Notary-Checks") || "").split(",").filter(Boolean);
  const leaf = response.headers.get("X-Notary-Read-Leaf");
  $("#checks").replaceChildren(
    h("p", {}, badge("✓ 核验通过", "ok"), " 这一页的材料在显示前已核验："),
    h(
      "ul",
      { id: "check-list" },
      checks.map((c) => {
        const [prop, text] = READ_CHECK_ZH[c] || ["", "其他检查通过"];
        return h("li", {}, `${prop ? `${prop}：` : ""}${text}`);
      }),
      h("li", {}, "可用性：材料可以正常打开并显示"),
    ),
    h("p", { class: "hint" }, `本次阅览已记入利用登记${leaf ? `（存证日志序号 ${leaf}）` : ""}。`),
  );
}

async function view(material, page) {
  say(`正在核验并显示第 ${page} 页…`, "busy");
  let response;
  try {
    response = await fetch(`/v1/materials/${material.id}/pages/${page}`, {
      headers: { Authorization: `Bearer ${apiKey()}`, Accept: "image/*, application/problem+json" },
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    say("无法连接服务。", "error");
    return;
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    $("#page-area").hidden = true;
    sayError("不能查阅：", new ApiError(response.status, problem));
    return;
  }
  const count = Number(response.headers.get("X-Page-Count") || "1");
  $("#page-image").src = await dataUrl(await response.blob());
  $("#page-image").alt = `${material.title}，第 ${page} 页`;
  viewing = { material, page, count };
  $("#page-area").hidden = false;
  $("#page-title").textContent = `${material.category}-${material.seq_no} ${material.title}`;
  $("#page-no").textContent = `第 ${page} / ${count} 页`;
  $("#prev-page").disabled = page <= 1;
  $("#next-page").disabled = page >= count;
  showChecks(response);
  say(`已显示第 ${page} 页（共 ${count} 页），核验通过。`, "ok");
}

if (who) {
  drawForm();
  $("#apply-form").addEventListener("submit", submitApplication);
  $("#prev-page").addEventListener("click", () => viewing && view(viewing.material, viewing.page - 1));
  $("#next-page").addEventListener("click", () => viewing && view(viewing.material, viewing.page + 1));
  loadGrants();
}
