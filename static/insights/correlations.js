// Scatter plots of the correlations page (insights/correlations.html): one per dimension–metric pair
// with enough teams, each point a team (% favourable across, the metric up).
//
// The data is the json_script block "insights-scatter": for each chart {id, x, y, points: [{x, y,
// team}]} — only teams whose survey figures are shown, and no chart at all below 8 teams. The table
// under each chart lists the same points in words. Reading the data and keeping the charts in step
// with the period picker's htmx swaps come from static/e360/charts.js.
(function () {
  "use strict";

  var token = window.e360Charts.token;

  function axis(title) {
    return {
      grid: { color: token("--chart-grid", "#e6e9ed") },
      border: { display: false },
      title: { display: true, text: title },
    };
  }

  function config(spec) {
    var x = axis(spec.x);
    x.min = 0;
    x.max = 100;
    var y = axis(spec.y);
    y.beginAtZero = true;
    return {
      type: "scatter",
      data: {
        datasets: [
          {
            label: "Teams",
            data: spec.points,
            backgroundColor: token("--accent", "#0969da"),
            pointRadius: 4,
            pointHoverRadius: 6,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (context) {
                var point = context.raw;
                return point.team + ": " + point.x + "% favourable, " + point.y;
              },
            },
          },
        },
        scales: { x: x, y: y },
      },
    };
  }

  window.e360Charts.keep(function (add) {
    var specs = window.e360Charts.readJson("insights-scatter") || [];
    specs.forEach(function (spec) {
      add(document.getElementById(spec.id), config(spec));
    });
  });
})();
