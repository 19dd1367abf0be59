// What every page with Chart.js charts shares (the delivery, review queue, pipelines, survey results,
// dashboard and correlation pages).
//
// Data comes from json_script blocks kept in <template id="<id>-data"> (htmx drops bare <script>
// tags it swaps in); colours from the design tokens in e360.css. These files are static, so the
// pages keep a strict Content-Security-Policy. e360Charts.keep(draw) keeps a page's charts in step
// with htmx: every htmx:load (and the first load) calls draw(add) to draw the canvases that have no
// chart yet, and charts whose canvas left the page, or is about to be swapped out, are destroyed.
window.e360Charts = (function () {
  "use strict";

  function readJson(id) {
    var holder = document.getElementById(id + "-data");
    var node = holder && holder.content ? holder.content.getElementById(id) : document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function token(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // The options of a chart with a y axis over categories (weeks, age buckets): no animation, a
  // tooltip of every dataset at the hovered category saying "<dataset>: <formatValue(y, index)>",
  // a titled y axis from zero. Pages adjust the object returned (stacking, ticks, legend).
  function axisOptions(yTitle, formatValue) {
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
              return context.dataset.label + ": " + formatValue(context.parsed.y, context.dataIndex);
            },
          },
        },
      },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 8 } },
        y: {
          beginAtZero: true,
          grid: { color: token("--chart-grid", "#e6e9ed") },
          border: { display: false },
          title: { display: true, text: yTitle },
        },
      },
    };
  }

  function keep(draw) {
    var charts = [];

    function add(canvas, config) {
      if (!canvas || Chart.getChart(canvas)) return;
      charts.push(new Chart(canvas, config));
    }

    function redraw() {
      if (typeof Chart === "undefined") return;
      charts = charts.filter(function (chart) {
        if (document.body.contains(chart.canvas)) return true;
        chart.destroy();
        return false;
      });
      draw(add);
    }

    // Before htmx swaps content that holds a chart (a swap, or Back/Forward restoring a page), take
    // the chart down and leave the canvas as the server sent it: htmx copies the attributes of an old
    // element onto the new one with the same id while it settles, and the style attribute Chart.js
    // set would be an inline style, which the Content-Security-Policy blocks.
    function release(event) {
      var detail = event.detail || {};
      var target = detail.target || detail.historyElt;
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
    document.addEventListener("DOMContentLoaded", redraw);
    document.addEventListener("htmx:load", redraw);
    document.addEventListener("htmx:historyRestore", redraw);
  }

  return { readJson: readJson, token: token, axisOptions: axisOptions, keep: keep };
})();
