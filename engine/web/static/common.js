// Shared by the console and the wallboard: CSRF-protected POSTs, toasts, the live stream, small DOM helpers.
"use strict";
var JQ = (function () {
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  function json(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : {}; }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function toast(text, bad) {
    var t = document.getElementById("toast"); t.textContent = text; t.className = "toast" + (bad ? " bad" : ""); t.hidden = false;
    clearTimeout(toast.timer); toast.timer = setTimeout(function () { t.hidden = true; }, 3000);
  }
  function post(url, data) {
    var body = data instanceof FormData ? data : new URLSearchParams(data || {});
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
      .then(function (r) { return r.json().catch(function () { return { ok: false }; }); });
  }
  function stream(handlers) {
    var live = document.getElementById("live");
    var source = new EventSource("/events");
    source.onopen = function () { live.hidden = false; live.classList.remove("down"); live.textContent = live.dataset.text || live.textContent; };
    source.onerror = function () { live.dataset.text = live.dataset.text || live.textContent; live.classList.add("down"); };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (e) { handlers[name](JSON.parse(e.data)); });
    });
    return source;
  }
  function clock(seconds) {
    if (seconds == null || seconds < 0) return "—";
    var s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
  }
  return { json: json, el: el, toast: toast, post: post, stream: stream, clock: clock };
})();
