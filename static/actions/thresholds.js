// The threshold form's backtest chart (actions/threshold_form.html): the metric's daily value over the last
// 90 days, the threshold as a line, and the days it would have fired marked.
//
// The data is the json_script block "backtest-series" (actions.thresholds.Backtest.chart); reading it, colours
// and keeping the chart in step with htmx swaps come from static/e360/charts.js.
(function () {
  "use strict";

  var token = window.e360Charts.token;

  function backtestConfig(series) {
    var unit = series.unit === "%" ? "%" : " " + series.unit;
    var options = window.e360Charts.axisOptions(series.label + " (" + series.unit + ")", function (value) {
      return Math.round(value * 100) / 100 + unit;
    });
    options.scales.y.beginAtZero = false;
    var line = token("--chart-line", "#1b1f24");
    var fired = token("--chart-failed", "#b42318");
    return {
      type: "line",
      data: {
        labels: series.labels,
        datasets: [
          {
            label: series.label,
            data: series.values,
            borderColor: line,
            backgroundColor: line,
            borderWidth: 2,
            spanGaps: false,
            pointRadius: series.fired.map(function (f) {
              return f ? 5 : 0;
            }),
            pointBackgroundColor: series.fired.map(function (f) {
              return f ? fired : line;
            }),
          },
          {
            label: "Threshold",
            data: series.values.map(function () {
              return series.limit;
            }),
            borderColor: fired,
            backgroundColor: fired,
            borderDash: [6, 4],
            borderWidth: 1.5,
            pointRadius: 0,
          },
        ],
      },
      options: options,
    };
  }

  window.e360Charts.keep(function (add) {
    var series = window.e360Charts.readJson("backtest-series");
    if (series && series.labels.length) add(document.getElementById("chart-backtest"), backtestConfig(series));
  });
})();
