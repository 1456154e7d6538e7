// Agent console: the customer card pops from the live stream while the phone rings; forms post with CSRF.
"use strict";
(function () {
  var T = JQ.json("i18n"), state = JQ.json("initial"), since = null, callId = null, received = [];
  window.jqReceived = received;  // what arrived and when (browser tests read it)
  var $ = function (id) { return document.getElementById(id); };

  function showState(s, reason, sinceAt, due) {
    $("state-dot").className = "dot " + s;
    var label = T.states[s] || s;
    if (s === "not-ready" && reason) label += " · " + (T.reasons[reason] || reason);
    $("state-name").textContent = label;
    $("state-name").dataset.state = s;
    since = sinceAt ? sinceAt * 1000 : Date.now();
    $("dispo-due").hidden = !due;
    $("btn-ready").disabled = !!due;
  }
  function fill(id, text) { $(id).textContent = text == null || text === "" ? T.none : text; }
  function list(id, items, render) {
    var ul = $(id); ul.textContent = "";
    if (!items || !items.length) { ul.appendChild(JQ.el("li", "muted", T.none)); return; }
    items.forEach(function (i) { ul.appendChild(render(i)); });
  }
  function showStatus(status) {
    var s = $("call-status"); s.className = "call-status " + status; s.textContent = T[status] || status;
    $("card").dataset.status = status;
  }
  function showCard(card, status) {
    callId = card.call_id;
    document.querySelectorAll(".call-id").forEach(function (i) { i.value = callId; });
    $("card-empty").hidden = true; $("card-body").hidden = false;
    $("card").dataset.callId = callId;
    var c = card.customer;
    $("cust-name").textContent = c && c.name ? c.name : T.unknown;
    $("cust-number").textContent = card.number || "";
    $("cust-tier").textContent = c && c.value_tier ? "★".repeat(Math.min(5, c.value_tier)) : "";
    fill("cust-segment", c && c.segment);
    var tags = $("cust-tags"); tags.textContent = "";
    if (c && c.tags && c.tags.length) c.tags.forEach(function (t) { tags.appendChild(JQ.el("span", "tag", t)); });
    else tags.textContent = T.none;
    fill("cust-owner", c && c.owner); fill("cust-last", c && c.last_agent);
    fill("call-queue", card.queue); fill("call-waited", JQ.clock(card.waited));
    var path = $("ivr-path"); path.textContent = "";
    (card.ivr_path || []).forEach(function (n) { path.appendChild(JQ.el("span", null, n)); });
    if (!path.childNodes.length) path.textContent = T.none;
    fill("ivr-keys", (card.ivr_digits || []).join("  "));
    list("cust-recent", c && c.recent, function (i) {
      var li = JQ.el("li"); li.appendChild(JQ.el("span", "muted", i.at + "  "));
      li.appendChild(document.createTextNode([i.queue, i.agent, i.result].filter(Boolean).join(" · ")));
      if (i.notes) li.appendChild(JQ.el("div", "muted", i.notes)); return li;
    });
    list("cust-callbacks", c && c.callbacks, function (i) { return JQ.el("li", null, i.due + "  " + i.reason); });
    $("transfer-note").hidden = !card.transferred_from;
    $("from-agent").textContent = card.transferred_from || "";
    $("from-notes").textContent = card.notes || "";
    var hasScript = card.campaign != null && card.campaign !== "";
    $("script-box").hidden = !hasScript;
    $("script-campaign").textContent = card.campaign || "";
    $("script").textContent = card.script || T.no_script;
    $("script").className = "script" + (card.script ? "" : " empty");
    $("dispo-code").value = ""; $("notes").value = "";
    showRecording(false); showConsult(null);
    showStatus(status);
  }
  function showRecording(masked) {
    var b = $("btn-recording"); b.dataset.masked = masked ? "1" : "0";
    b.textContent = masked ? T.resume_recording : T.pause_recording;
    $("rec-state").hidden = !masked; $("rec-dot").className = "rec-dot" + (masked ? " paused" : "");
  }
  function showConsult(target) {
    $("consult-state").hidden = !target; $("consult-with").textContent = target || "";
  }
  function showPreview(p) {
    if (!$("preview-panel")) return;
    $("preview-contact").hidden = !p; $("preview-hint").hidden = !!p;
    if (!p) return;
    var c = p.customer;
    $("preview-contact").dataset.contactId = String(p.contact_id);
    $("preview-campaign-name").textContent = p.campaign;
    $("preview-name").textContent = c && c.name ? c.name : T.unknown;
    $("preview-number").textContent = p.number || "";
    fill("preview-segment", c && c.segment); fill("preview-attempts", String(p.attempts)); fill("preview-last", p.last_outcome);
    $("preview-script").textContent = p.script || T.no_script;
    $("preview-script").className = "script" + (p.script ? "" : " empty");
    $("skip-reason").value = "";
  }

  showPreview(JQ.json("initial-preview"));
  showState(state.state, state.reason, state.since, state.disposition_due);
  if (state.call) showCard(state.call.card, state.call.status);
  setInterval(function () { $("state-timer").textContent = JQ.clock((Date.now() - since) / 1000); }, 1000);

  JQ.stream({
    hello: function (s) { showState(s.state, s.reason, s.since, s.disposition_due); if (s.call) showCard(s.call.card, s.call.status); },
    pop: function (m) {
      received.push({ kind: "pop", call_id: m.card.call_id, t: Date.now() }); showCard(m.card, m.status);
      if (m.status === "dialing") showPreview(null);
    },
    call: function (m) { if (m.call_id === callId) showStatus(m.status); },
    state: function (m) { showState(m.state, m.reason, m.since, m.disposition_due); if (m.call_status && callId) showStatus(m.call_status); },
    saved: function () { JQ.toast(T.saved); },
    consult: function (m) { if (m.call_id === callId) showConsult(m.status === "ringing" ? m.target : null); },
    recording: function (m) { if (m.call_id === callId) showRecording(m.masked); }
  });

  function act(url, data) {
    return JQ.post(url, data).then(function (r) {
      if (r.ok) JQ.toast(T.done); else JQ.toast((r.message || T.error) + (r.detail ? " — " + r.detail : ""), true);
      return r;
    });
  }
  $("btn-ready").addEventListener("click", function () { act("/api/console/ready"); });
  $("btn-not-ready").addEventListener("click", function () { act("/api/console/not-ready", { reason: $("reason").value }); });
  if ($("preview-panel")) {
    $("form-preview-next").addEventListener("submit", function (e) {
      e.preventDefault();
      act(e.target.dataset.url, new FormData(e.target)).then(function (r) { if (r.ok) showPreview(r.preview); });
    });
    $("btn-preview-skip").addEventListener("click", function () {
      var reason = $("skip-reason").value;
      if (!reason) { $("skip-reason").focus(); JQ.toast(T.skip_reason_required, true); return; }
      act("/api/console/preview/skip", { reason: reason }).then(function (r) { if (r.ok) showPreview(null); });
    });
    $("btn-preview-dial").addEventListener("click", function () {
      act("/api/console/preview/dial").then(function (r) { if (r.ok) showPreview(null); });
    });
    $("form-dial").addEventListener("submit", function (e) {
      e.preventDefault();
      var box = $("dial-refusal");
      JQ.post(e.target.dataset.url, new FormData(e.target)).then(function (r) {
        box.hidden = !!r.ok;
        if (r.ok) { JQ.toast(T.done); e.target.reset(); }
        else box.textContent = (r.message || T.error) + (r.detail ? " — " + r.detail : "");
      });
    });
  }
  $("form-consult").addEventListener("submit", function (e) {
    e.preventDefault();
    var data = new FormData(e.target); data.append("notes", $("notes").value);
    act(e.target.dataset.url, data).then(function (r) { if (r.ok) showConsult($("consult-target").value); });
  });
  $("btn-consult-complete").addEventListener("click", function () {
    act("/api/console/consult/complete").then(function (r) { if (r.ok) showConsult(null); });
  });
  $("btn-consult-cancel").addEventListener("click", function () {
    act("/api/console/consult/cancel").then(function (r) { if (r.ok) showConsult(null); });
  });
  $("btn-recording").addEventListener("click", function () {
    var masked = $("btn-recording").dataset.masked === "1" ? "0" : "1";
    act("/api/console/recording", { masked: masked }).then(function (r) { if (r.ok) showRecording(r.masked); });
  });
  ["form-disposition", "form-transfer", "form-callback"].forEach(function (id) {
    $(id).addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(e.target);
      if (id === "form-transfer") data.append("notes", $("notes").value);
      act(e.target.dataset.url, data).then(function (r) { if (r.ok && id !== "form-disposition") e.target.reset(); });
    });
  });
})();
