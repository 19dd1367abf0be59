// Weekly delivery charts of the delivery pages (metrics/delivery.html).
//
// The data comes from the <script type="application/json" id="dora-weekly"> block that
// json_script writes (metrics.display.weekly_chart), kept in a <template> so that htmx
// swaps keep it; colours come from the design
// tokens in e360.css. This file is static, so the page keeps a strict
// Content-Security-Policy. htmx swaps the whole content when the period changes:
// every htmx:load draws the canvases that have no chart yet, and charts whose
// canvas left the page are destroyed.
(function () {
  "use strict";

  var charts = [];

  // json_script's block sits in <template id="<id>-data"> (htmx drops bare <script> tags it swaps in).
  function readJson(id) {
    var holder = document.getElementById(id + "-data");
    var node = holder && holder.content ? holder.content.getElementById(id) : document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function token(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // Hours up to three days, days beyond: a lead time of 300 h reads better as 12.5 days.
  function durationUnit(series) {
    var longest = 0;
    for (var i = 0; i < series.labels.length; i++) {
      var stacked = ["coding", "pickup", "review", "deploy"].reduce(function (sum, part) {
        return sum + (series[part][i] || 0);
      }, 0);
      longest = Math.max(longest, stacked, series.lead_time[i] || 0);
    }
    return longest > 72 ? { name: "days", divisor: 24, short: "d" } : { name: "hours", divisor: 1, short: "h" };
  }

  function scaled(values, divisor) {
    return values.map(function (value) {
      return value === null ? null : Math.round((value / divisor) * 100) / 100;
    });
  }

  function baseOptions(yTitle, formatValue) {
    var grid = token("--chart-grid", "#e6e9ed");
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
        tooltip: {
          callbacks: {
            label: function (context) {
              if (context.parsed.y === null) return context.dataset.label + ": no data";
              return context.dataset.label + ": " + formatValue(context.parsed.y);
            },
          },
        },
      },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 8 } },
        y: {
          stacked: true,
          beginAtZero: true,
          grid: { color: grid },
          border: { display: false },
          title: { display: true, text: yTitle },
        },
      },
    };
  }

  function frequencyConfig(series) {
    var options = baseOptions("Production deployments", function (value) {
      return value + (value === 1 ? " deployment" : " deployments");
    });
    options.scales.y.ticks = { precision: 0 };
    return {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [
          { label: "Successful", data: series.deployments_ok, backgroundColor: token("--chart-ok", "#0b5cad") },
          { label: "Failed", data: series.deployments_failed, backgroundColor: token("--chart-failed", "#b42318") },
        ],
      },
      options: options,
    };
  }

  function leadTimeConfig(series) {
    var unit = durationUnit(series);
    var parts = [
      ["coding", "Coding"],
      ["pickup", "Pickup"],
      ["review", "Review"],
      ["deploy", "Deploy"],
    ];
    var datasets = parts.map(function (part) {
      return {
        label: part[1],
        data: scaled(series[part[0]], unit.divisor),
        backgroundColor: token("--chart-" + part[0], "#57606a"),
      };
    });
    var line = token("--chart-line", "#1b1f24");
    datasets.push({
      type: "line",
      label: "Median lead time",
      data: scaled(series.lead_time, unit.divisor),
      borderColor: line,
      backgroundColor: line,
      borderWidth: 2,
      pointRadius: 2.5,
      spanGaps: true,
      stack: "lead-time",
    });
    return {
      type: "bar",
      data: { labels: series.labels, datasets: datasets },
      options: baseOptions("Median " + unit.name, function (value) {
        return value + " " + unit.short;
      }),
    };
  }

  function mount(id, configure, series) {
    var canvas = document.getElementById(id);
    if (!canvas || Chart.getChart(canvas)) return;
    charts.push(new Chart(canvas, configure(series)));
  }

  function draw() {
    if (typeof Chart === "undefined") return;
    charts = charts.filter(function (chart) {
      if (document.body.contains(chart.canvas)) return true;
      chart.destroy();
      return false;
    });
    var series = readJson("dora-weekly");
    if (!series || !series.labels.length) return;
    mount("chart-frequency", frequencyConfig, series);
    mount("chart-lead-time", leadTimeConfig, series);
  }

  // Before htmx swaps content that holds a chart (a period swap, or Back/Forward reloading a
  // page), take the chart down and leave the canvas as the server sent it. htmx copies the attributes of an old element onto the new one with
  // the same id while it settles; copying the style attribute Chart.js set on the canvas
  // would be an inline style, which the page's Content-Security-Policy blocks.
  function release(event) {
    var detail = event.detail || {};
    var target = detail.target || detail.historyElt; // a swap, or Back/Forward restoring a page
    if (!target) return;
    charts = charts.filter(function (chart) {
      if (!target.contains(chart.canvas)) return true;
      var canvas = chart.canvas;
      chart.destroy();
      canvas.removeAttribute("style");
      return false;
    });
  }

  document.addEventListener("htmx:beforeSwap", release);
  document.addEventListener("htmx:historyCacheMissLoad", release);
  document.addEventListener("htmx:historyCacheHit", release);
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:load", draw);
  document.addEventListener("htmx:historyRestore", draw);
})();
