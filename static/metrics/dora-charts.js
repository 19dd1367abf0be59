// Weekly delivery charts for the service and team pages.
// Data comes from <script type="application/json"> blocks written by json_script;
// this file is static so the page keeps a strict Content-Security-Policy.
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var palette = {
    deployments: "#0b5cad",
    failed: "#b42318",
    coding: "#6f42c1",
    pickup: "#d97706",
    review: "#0e7490",
    deploy: "#1a7f37",
  };

  function baseOptions(yTitle) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: yTitle } },
      },
    };
  }

  function draw() {
    if (typeof Chart === "undefined") return;
    var series = readJson("dora-weekly");
    if (!series || !series.weeks.length) return;

    var frequency = document.getElementById("chart-frequency");
    if (frequency) {
      if (frequency._chart) frequency._chart.destroy();
      frequency._chart = new Chart(frequency, {
        type: "bar",
        data: {
          labels: series.weeks,
          datasets: [
            { label: "Successful", data: series.deployments_ok, backgroundColor: palette.deployments },
            { label: "Failed (caused an incident, rollback or hotfix)", data: series.deployments_failed, backgroundColor: palette.failed },
          ],
        },
        options: baseOptions("Production deployments"),
      });
    }

    var lead = document.getElementById("chart-lead-time");
    if (lead) {
      if (lead._chart) lead._chart.destroy();
      lead._chart = new Chart(lead, {
        type: "bar",
        data: {
          labels: series.weeks,
          datasets: ["coding", "pickup", "review", "deploy"].map(function (part) {
            return { label: part.charAt(0).toUpperCase() + part.slice(1), data: series[part], backgroundColor: palette[part] };
          }),
        },
        options: baseOptions("Median hours per change"),
      });
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
  // Redraw when htmx swaps in a new period.
  document.addEventListener("htmx:afterSettle", draw);
})();
