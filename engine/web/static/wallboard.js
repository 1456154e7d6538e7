// Supervisor wallboard: queue tiles, a uPlot chart of callers waiting, agents by state, agent table with actions.
"use strict";
(function () {
  var T = JQ.json("i18n"), floor = JQ.json("initial"), plot = null, received = [], series = floor.waiting_history || [];
  window.jqReceived = received;
  var STATES = ["available", "ringing", "reserved", "on-call", "wrap-up", "not-ready", "logged-out"];
  var $ = function (id) { return document.getElementById(id); };

  function kpi(value, label, small) {
    var k = JQ.el("div", "kpi" + (small ? " small" : "")); k.appendChild(JQ.el("b", null, value)); k.appendChild(JQ.el("small", null, label)); return k;
  }
  function pct(v) { return v == null ? "—" : v.toFixed(1) + "%"; }
  function mini(states) {
    var total = 0, bar = JQ.el("div", "mini");
    STATES.forEach(function (s) { total += states[s] || 0; });
    STATES.forEach(function (s) {
      if (!states[s]) return; var span = JQ.el("span", "s-" + s); span.style.width = (100 * states[s] / total) + "%";
      span.title = (T.states[s] || s) + ": " + states[s]; bar.appendChild(span);
    });
    return bar;
  }
  function tiles(queues) {
    var box = $("queues"); box.textContent = "";
    queues.forEach(function (q) {
      var tile = JQ.el("div", "tile" + (q.waiting > 0 && q.longest_wait > 30 ? " alert" : ""));
      tile.dataset.queue = q.name;
      tile.appendChild(JQ.el("h4", null, q.name));
      var row = JQ.el("div", "row");
      var w = kpi(String(q.waiting), T.waiting); w.querySelector("b").className = "waiting"; row.appendChild(w);
      row.appendChild(kpi(JQ.clock(q.longest_wait), T.longest));
      tile.appendChild(row);
      var row2 = JQ.el("div", "row");
      row2.appendChild(kpi(pct(q.service_level), T.sl + " · " + T.today, true));
      row2.appendChild(kpi(pct(q.abandon_rate), T.abandon, true));
      var h = kpi(String(q.answered), T.handled, true); h.querySelector("b").className = "answered"; row2.appendChild(h);
      tile.appendChild(row2);
      tile.appendChild(mini(q.agents));
      box.appendChild(tile);
    });
  }
  function stateBars(totals) {
    var box = $("chart-states"), max = 1; box.textContent = "";
    STATES.forEach(function (s) { max = Math.max(max, totals[s] || 0); });
    STATES.forEach(function (s) {
      var line = JQ.el("div", "line"); line.appendChild(JQ.el("span", null, T.states[s] || s));
      var bar = JQ.el("div", "bar"), fill = JQ.el("span", "s-" + s); fill.style.width = (100 * (totals[s] || 0) / max) + "%";
      bar.appendChild(fill); line.appendChild(bar); line.appendChild(JQ.el("b", null, String(totals[s] || 0)));
      box.appendChild(line);
    });
  }
  function chart(history) {
    var xs = history.map(function (p) { return p[0]; }), ys = history.map(function (p) { return p[1]; });
    if (!xs.length) { xs = [Date.now() / 1000]; ys = [0]; }
    if (!plot) {
      var box = $("chart-waiting");
      plot = new uPlot({ width: box.clientWidth || 600, height: 220, legend: { show: false },
        scales: { y: { range: function (u, min, max) { return [0, Math.max(4, max + 1)]; } } },
        series: [{}, { label: T.waiting, stroke: "#1769aa", width: 2, fill: "rgba(23,105,170,.12)" }],
        axes: [{ stroke: "#6b7487" }, { stroke: "#6b7487" }] }, [xs, ys], box);
      window.addEventListener("resize", function () { plot.setSize({ width: box.clientWidth, height: 220 }); });
    } else plot.setData([xs, ys]);
  }
  function agents(list) {
    var body = $("agents").querySelector("tbody"); body.textContent = "";
    list.forEach(function (a) {
      var tr = JQ.el("tr"); tr.dataset.agent = a.id; tr.dataset.state = a.state;
      tr.appendChild(JQ.el("td", "mono", a.id));
      var st = JQ.el("td"), pill = JQ.el("span", "pill"), dot = JQ.el("i", "s-" + a.state); pill.appendChild(dot);
      pill.appendChild(document.createTextNode((T.states[a.state] || a.state) + (a.reason ? " · " + (T.reasons[a.reason] || a.reason) : "")));
      st.appendChild(pill); tr.appendChild(st);
      var timer = JQ.el("td", "mono in-state"); timer.dataset.since = a.seconds_in_state == null ? "" : String(Date.now() / 1000 - a.seconds_in_state);
      timer.textContent = JQ.clock(a.seconds_in_state); tr.appendChild(timer);
      tr.appendChild(JQ.el("td", null, a.queues.join(", ")));
      var call = JQ.el("td"), actions = JQ.el("div", "actions");
      if (a.state === "on-call") ["listen", "whisper", "barge"].forEach(function (mode) {
        var b = JQ.el("button", null, T[mode === "listen" ? "monitor" : mode]); b.dataset.mode = mode;
        b.addEventListener("click", function () { monitor(a.id, mode); }); actions.appendChild(b);
      });
      call.appendChild(actions); tr.appendChild(call);
      var force = JQ.el("td"), fa = JQ.el("div", "actions");
      [["ready", T.ready], ["not-ready", T.not_ready], ["logged-out", T.logout]].forEach(function (p) {
        var b = JQ.el("button", null, p[1]); b.dataset.force = p[0]; b.disabled = a.state === p[0] || (p[0] === "ready" && a.state === "available");
        b.addEventListener("click", function () { send("/api/agents/" + encodeURIComponent(a.id) + "/state", { state: p[0], reason: "break" }); });
        fa.appendChild(b);
      });
      force.appendChild(fa); tr.appendChild(force);
      body.appendChild(tr);
    });
  }
  function campaigns(list) {
    var body = $("campaigns").querySelector("tbody"); body.textContent = "";
    if (!list || !list.length) {
      var tr = JQ.el("tr"), td = JQ.el("td", "muted", T.no_campaigns); td.colSpan = 8; tr.appendChild(td); body.appendChild(tr); return;
    }
    list.forEach(function (c) {
      var tr = JQ.el("tr"); tr.dataset.campaign = c.name; tr.dataset.status = c.status;
      tr.appendChild(JQ.el("td", null, c.name)); tr.appendChild(JQ.el("td", null, c.mode));
      var st = JQ.el("td"), pill = JQ.el("span", "pill"); pill.appendChild(JQ.el("i", "c-" + c.status));
      pill.appendChild(document.createTextNode(T.campaign_states[c.status] || c.status)); st.appendChild(pill); tr.appendChild(st);
      tr.appendChild(JQ.el("td", "mono dial-level", c.dial_level == null ? "—" : Number(c.dial_level).toFixed(2)));
      var today = JQ.el("td", "mono abandon-today" + (c.abandon_today > 3 ? " over" : ""), pct(c.abandon_today)); tr.appendChild(today);
      tr.appendChild(JQ.el("td", "mono" + (c.abandon_30d > 3 ? " over" : ""), pct(c.abandon_30d)));
      var prog = JQ.el("td", "progress"), bar = JQ.el("div", "pbar"), fill = JQ.el("span");
      fill.style.width = c.progress + "%"; bar.appendChild(fill); prog.appendChild(bar);
      var txt = JQ.el("small", "muted dialed", T.dialed + " " + c.dialed + " · " + T.remaining + " " + c.remaining); prog.appendChild(txt);
      tr.appendChild(prog);
      var act = JQ.el("td"), action = c.status === "running" ? "pause" : c.status === "paused" ? "resume" : null;
      if (action) {
        var b = JQ.el("button", action === "pause" ? "" : "primary", T[action]); b.dataset.action = action;
        b.addEventListener("click", function () { send("/api/campaigns/" + encodeURIComponent(c.name) + "/" + action, {}); });
        act.appendChild(b);
      }
      tr.appendChild(act); body.appendChild(tr);
    });
  }
  function send(url, data) {
    return JQ.post(url, data).then(function (r) { JQ.toast(r.ok ? T.done : (r.message || T.error) + (r.detail ? " — " + r.detail : ""), !r.ok); });
  }
  function monitor(agent, mode) {
    var ext = $("sup-ext").value.trim();
    if (!ext) { $("sup-ext").focus(); JQ.toast(T.your_phone, true); return; }
    send("/api/agents/" + encodeURIComponent(agent) + "/monitor", { mode: mode, extension: ext });
  }
  function render(f) {
    $("queues").dataset.at = String(f.at);
    if (f.waiting_history) series = f.waiting_history;
    else if (!series.length || series[series.length - 1][1] !== f.waiting || f.at - series[series.length - 1][0] >= 1) {
      series.push([f.at, f.waiting]);
      while (series.length && series[0][0] < f.at - 600) series.shift();
    }
    tiles(f.queues); stateBars(f.agent_states); agents(f.agents); campaigns(f.campaigns); chart(series);
  }
  render(floor);
  setInterval(function () {
    document.querySelectorAll("td.in-state").forEach(function (td) {
      if (td.dataset.since) td.textContent = JQ.clock(Date.now() / 1000 - parseFloat(td.dataset.since));
    });
  }, 1000);
  JQ.stream({ floor: function (f) { received.push({ kind: "floor", t: Date.now(), event_at: f.event_at }); render(f); } });
})();
