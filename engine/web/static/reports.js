// Report pages: draws the report's chart with uPlot (stacked bars per row, or a line over time) and its legend.
"use strict";
(function () {
  var box = document.getElementById("report-chart"), node = document.getElementById("chart-data");
  var spec = node ? JSON.parse(node.textContent) : null;
  if (!box || !spec) return;
  var legend = document.getElementById("chart-legend"), height = 260;

  function legendItem(s) {
    var item = document.createElement("span"), dot = document.createElement("i");
    dot.style.background = s.color; item.appendChild(dot); item.appendChild(document.createTextNode(s.label));
    legend.appendChild(item);
  }
  function width() { return Math.max(320, box.clientWidth || 800); }

  function bars() {
    var n = spec.labels.length, xs = [], stacks = [], running = [];
    if (!n) { box.classList.add("empty"); return null; }
    for (var i = 0; i < n; i++) { xs.push(i); running.push(0); }
    spec.series.forEach(function (s) {   // cumulative sums: each series is drawn from 0 to its top
      running = running.map(function (v, i) { return v + (s.values[i] || 0); });
      stacks.push(running.slice());
    });
    var series = [{}], data = [xs], barPath = uPlot.paths.bars({ size: [Math.min(0.7, 0.25 + 0.06 * n), 90] });
    for (var k = stacks.length - 1; k >= 0; k--) {  // tallest first, so each smaller part paints over it
      series.push({ label: spec.series[k].label, fill: spec.series[k].color, stroke: spec.series[k].color, width: 0,
                    paths: barPath, points: { show: false } });
      data.push(stacks[k]);
    }
    spec.series.forEach(legendItem);
    return new uPlot({ width: width(), height: height, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false, range: [-0.6, n - 0.4] }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.08)]; } } },
      axes: [{ stroke: "#6b7487", grid: { show: false }, splits: function () { return xs; },
               values: function (u, splits) { return splits.map(function (v) { var t = spec.labels[v]; return t == null ? "" : (t.length > 22 ? t.slice(0, 21) + "…" : t); }); } },
             { stroke: "#6b7487", grid: { stroke: "#eef1f6" } }],
      series: series }, data, box);
  }

  function line() {
    if (!spec.x.length) { box.classList.add("empty"); return null; }
    var series = [{}], data = [spec.x];
    spec.series.forEach(function (s) {
      series.push({ label: s.label, stroke: s.color, width: 2, fill: "rgba(23,105,170,.12)", points: { show: false } });
      data.push(s.values); legendItem(s);
    });
    var fmt = new Intl.DateTimeFormat("en-CA", { timeZone: spec.zone, year: "numeric", month: "2-digit", day: "2-digit",
                                                 hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    function label(ts, withDay) {  // center-time "MM-DD HH:MM" / "HH:MM"
      var p = {}; fmt.formatToParts(new Date(ts * 1000)).forEach(function (x) { p[x.type] = x.value; });
      return (withDay ? p.month + "-" + p.day + " " : "") + p.hour + ":" + p.minute;
    }
    return new uPlot({ width: width(), height: height, legend: { show: false },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), spec.zone); },
      scales: { y: { range: function (u, min, max) { return [0, Math.max(2, max + 1)]; } } },
      axes: [{ stroke: "#6b7487", grid: { stroke: "#eef1f6" }, values: function (u, splits) {
                 return splits.map(function (ts, i) { var l = label(ts, true); return i === 0 || l.slice(6) === "00:00" ? l.slice(6) + "\n" + l.slice(0, 5) : l.slice(6); }); }, size: 48 },
             { stroke: "#6b7487", grid: { stroke: "#eef1f6" } }],
      series: series }, data, box);
  }

  var plot = spec.kind === "time" ? line() : bars();
  window.jqChart = plot;
  if (plot) window.addEventListener("resize", function () { plot.setSize({ width: width(), height: height }); });
})();
