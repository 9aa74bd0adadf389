/* pilothouse's charts: every element with data-chart="ID" is drawn from the JSON spec in
   <script type="application/json" id="ID"> with the vendored uPlot. Spec:
   {"kind": "line"|"bars"|"stacked"|"sparkline", "x": [unix seconds...],
    "series": [{"label": str, "values": [number|null...], "unit": str}],
    "lines": [{"label": str, "value": number}],  (lines: targets and limits, dashed)
    "marks": [{"x": unix seconds, "label": str}]}  (optional: events, e.g. anomalous days,
   drawn as dotted vertical lines with their label; counted in data-marks) */
(function () {
  "use strict";
  var COLORS = ["#2f6fb3", "#d9822b", "#3c9a5f", "#b8453d", "#7d5ba6", "#8c6d46", "#c75b9b",
                "#5f6b7a", "#a3a82b", "#2ba3a8"];
  var LINE_COLORS = ["#b8453d", "#7d5ba6", "#5f6b7a"];

  function color(i) { return COLORS[i % COLORS.length]; }

  function fmt(unit) {
    return function (u, v) {
      if (v === null || v === undefined) { return "-"; }
      var size = Math.abs(v);  // two significant digits below 1: 0.0025 s, not 0 s
      var text = size >= 100 ? v.toFixed(0)
        : size >= 1 || v === 0 ? (Math.round(v * 100) / 100).toString()
        : Number(v.toPrecision(2)).toString();
      return unit ? text + " " + unit : text;
    };
  }

  function stackedValues(series) {
    var sums = [];
    return series.map(function (s) {
      return s.values.map(function (v, i) {
        sums[i] = (sums[i] || 0) + (v || 0);
        return sums[i];
      });
    });
  }

  var DAY = 86400;

  /* The x scale holds every point inside the plot: a bar's half step on both sides (else the
     first and last bars are cut in half), a day on both sides of a lone point (else uPlot
     spreads one instant over years). */
  function xRange(xs, bars) {
    if (xs.length === 1) {  // uPlot widens a zero span itself before asking: not from min, max
      return function () { return [xs[0] - DAY, xs[0] + DAY]; };
    }
    var pad = bars ? (xs[xs.length - 1] - xs[0]) / (xs.length - 1) / 2 : 0;
    return function (u, min, max) { return [min - pad, max + pad]; };
  }

  function build(spec, width, height) {
    var kind = spec.kind;
    var bars = kind === "bars" || kind === "stacked";
    var spark = kind === "sparkline";
    var series = spec.series || [];
    var values = kind === "stacked" ? stackedValues(series) : series.map(function (s) {
      return s.values;
    });
    var data = [spec.x];
    var opts = {
      width: width, height: height,
      legend: { show: !spark },
      cursor: { show: !spark },
      scales: { x: { time: true, range: xRange(spec.x, bars) } },
      axes: spark ? [{ show: false }, { show: false }] : [
        {},
        { values: function (u, ticks) { return ticks.map(function (t) {
            return fmt(series.length ? series[0].unit : "")(u, t); }); }, size: 70 }
      ],
      series: [{}]
    };
    if (bars) {  // bars stand on zero
      opts.scales.y = { range: function (u, min, max) { return [Math.min(0, min), max * 1.05]; } };
    }
    var order = series.map(function (_, i) { return i; });
    if (kind === "stacked") { order.reverse(); }  // the tallest sum first, the rest on top
    order.forEach(function (i) {
      data.push(values[i]);
      var entry = {
        label: series[i].label, stroke: color(i), width: spark ? 1.5 : 2,
        value: fmt(series[i].unit), spanGaps: !bars,
        points: { show: !spark && !bars && spec.x.length < 60 }
      };
      if (bars) {
        entry.paths = uPlot.paths.bars({ size: [0.8, 40] });
        entry.fill = color(i);
      }
      opts.series.push(entry);
    });
    (spec.lines || []).forEach(function (line, j) {
      data.push(spec.x.map(function () { return line.value; }));
      opts.series.push({
        label: line.label, stroke: LINE_COLORS[j % LINE_COLORS.length], width: 1.5,
        dash: [6, 4], points: { show: false }, value: fmt(series.length ? series[0].unit : "")
      });
    });
    if ((spec.marks || []).length) { opts.hooks = { draw: [drawMarks(spec.marks)] }; }
    return { opts: opts, data: data };
  }

  function drawMarks(marks) {
    return function (u) {
      var ctx = u.ctx, ratio = window.devicePixelRatio || 1;
      ctx.save();
      ctx.strokeStyle = ctx.fillStyle = "#b8453d";
      ctx.lineWidth = ratio;
      ctx.setLineDash([2 * ratio, 3 * ratio]);
      ctx.font = (11 * ratio) + "px sans-serif";
      var free = -Infinity;  // labels never overlap: one that would is left out
      marks.forEach(function (mark) {
        var x = Math.round(u.valToPos(mark.x, "x", true));
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
        if (x >= free) {
          ctx.fillText(mark.label, x + 3 * ratio, u.bbox.top + 12 * ratio);
          free = x + ctx.measureText(mark.label).width + 8 * ratio;
        }
      });
      ctx.restore();
    };
  }

  function pointsOf(spec) {
    return (spec.series || []).reduce(function (n, s) {
      return n + s.values.filter(function (v) { return v !== null; }).length;
    }, 0);
  }

  function draw(element) {
    var source = document.getElementById(element.getAttribute("data-chart"));
    if (!source) { throw new Error("no chart data #" + element.getAttribute("data-chart")); }
    var spec = JSON.parse(source.textContent);
    var points = pointsOf(spec);
    element.setAttribute("data-points", String(points));
    element.setAttribute("data-marks", String((spec.marks || []).length));
    if (!points) {
      element.classList.add("empty");
      element.textContent = element.getAttribute("data-empty") || "no data in this window";
      return;
    }
    var spark = spec.kind === "sparkline";
    var width = element.clientWidth || (spark ? 160 : 600);
    var height = Number(element.getAttribute("data-height")) || (spark ? 40 : 240);
    var built = build(spec, width, height);
    element.textContent = "";
    built.opts.hooks = built.opts.hooks || {};
    built.opts.hooks.ready = [function (u) {  // the x scale drawn, for the browser tests
      element.setAttribute("data-x-range", u.scales.x.min + "," + u.scales.x.max);
    }];
    new uPlot(built.opts, built.data, element);
  }

  function drawCharts() {
    var elements = document.querySelectorAll("[data-chart]");
    Array.prototype.forEach.call(elements, draw);
  }

  window.pilothouse = { drawCharts: drawCharts, format: fmt };
  document.addEventListener("DOMContentLoaded", drawCharts);
})();
