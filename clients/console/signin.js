// Sign-in: check the key with GET /console/api/session, keep it in sessionStorage.
import { api, apiKey, currentSession, homeFor, param, say, storeSession } from "./console.js";

const form = document.getElementById("signin-form");
const input = document.getElementById("api-key");
const button = document.getElementById("sign-in");

function safeNext(next) {
  // Only a console page of this origin: a file name with an optional query.
  return next && /^[a-z]+\.html(\?[^#]*)?$/.test(next) ? next : null;
}

if (apiKey() && currentSession() && !param("signed-out")) {
  location.replace(safeNext(param("next")) || homeFor(currentSession()));
}

if (param("signed-out")) say("已退出登录，密钥已从本浏览器清除。", "ok");
if (param("expired")) say("密钥无效或已撤销，请重新登录。", "error");
if (param("next") && !param("expired")) say("请先登录。", "info");

document.getElementById("show-key").addEventListener("change", (e) => {
  input.type = e.target.checked ? "text" : "password";
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = input.value.trim();
  if (!key) {
    say("请输入 API 密钥。", "error");
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  button.disabled = true;
  say("正在验证密钥…", "busy");
  try {
    const { data } = await api("/console/api/session", { key, signInOn401: false });
    storeSession(key, data);
    input.removeAttribute("aria-invalid");
    say(`已登录：${data.unit_name || data.unit_code}`, "ok");
    location.assign(safeNext(param("next")) || homeFor(data));
  } catch (err) {
    say(`登录失败：${err.message}`, "error");
    input.setAttribute("aria-invalid", "true");
    input.focus();
    input.select();
  } finally {
    button.disabled = false;
  }
});
