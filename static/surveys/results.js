// Answer distributions of the survey results page (surveys/results.html): one bar chart per question.
//
// The data comes from the <script type="application/json" id="survey-charts"> block json_script writes,
// kept in a <template id="survey-charts-data"> so that htmx swaps keep it (htmx drops <script> tags it
// swaps in). Each chart: {id, horizontal, labels, counts, tones}; tones ("favourable", "neutral",
// "unfavourable") pick colours from the design tokens in e360.css, and the table under each chart says
// the same in words. This file is static, so the page keeps a strict Content-Security-Policy. The team
// picker swaps the whole content: every htmx:load draws the canvases without a chart, and charts whose
// canvas is about to be swapped out are destroyed first.
(function () {
  "use strict";

  var charts = [];

  function readJson(id) {
    var holder = document.getElementById(id + "-data");
    var node = holder && holder.content ? holder.content.getElementById(id) : document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function token(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function config(spec) {
    var colours = {
      favourable: token("--survey-favourable", "#1a7f37"),
      neutral: token("--survey-neutral", "#8c959f"),
      unfavourable: token("--survey-unfavourable", "#b42318"),
    };
    var valueAxis = {
      beginAtZero: true,
      ticks: { precision: 0 },
      grid: { color: token("--chart-grid", "#e6e9ed") },
      border: { display: false },
      title: { display: true, text: "Answers" },
    };
    var labelAxis = { grid: { display: false }, ticks: { autoSkip: false } };
    return {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [
          {
            label: "Answers",
            data: spec.counts,
            backgroundColor: spec.tones.map(function (tone) {
              return colours[tone] || colours.neutral;
            }),
          },
        ],
      },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (context) {
                var value = spec.horizontal ? context.parsed.x : context.parsed.y;
                return value + (value === 1 ? " answer" : " answers");
              },
            },
          },
        },
        scales: spec.horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
      },
    };
  }

  function draw() {
    if (typeof Chart === "undefined") return;
    charts = charts.filter(function (chart) {
      if (document.body.contains(chart.canvas)) return true;
      chart.destroy();
      return false;
    });
    var specs = readJson("survey-charts") || [];
    specs.forEach(function (spec) {
      var canvas = document.getElementById(spec.id);
      if (!canvas || Chart.getChart(canvas)) return;
      charts.push(new Chart(canvas, config(spec)));
    });
  }

  // Before htmx swaps the content, take its charts down and leave each canvas as the server sent it:
  // htmx would otherwise copy the style attribute Chart.js set onto the new canvas, an inline style
  // the Content-Security-Policy blocks.
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
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:load", draw);
  document.addEventListener("htmx:historyRestore", draw);
})();
