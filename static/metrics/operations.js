// Charts of the operational pages: the review queue by waiting time (metrics/review_queue.html)
// and the weekly pipeline failure rate (metrics/pipelines.html).
//
// The data are the json_script blocks "review-ages" and "pipeline-weeks" (metrics.views.operations);
// reading them, colours and keeping the charts in step with htmx swaps come from static/e360/charts.js.
(function () {
  "use strict";

  var token = window.e360Charts.token;

  function reviewAgesConfig(series) {
    var onTime = token("--chart-ok", "#0b5cad");
    var late = token("--chart-failed", "#b42318");
    var options = window.e360Charts.axisOptions("Pull requests", function (value) {
      return value + (value === 1 ? " pull request" : " pull requests");
    });
    options.plugins.legend.display = false;
    options.scales.y.ticks = { precision: 0 };
    return {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [
          {
            label: "Waiting",
            data: series.counts,
            backgroundColor: series.late.map(function (isLate) {
              return isLate ? late : onTime;
            }),
          },
        ],
      },
      options: options,
    };
  }

  function failureRateConfig(series) {
    var options = window.e360Charts.axisOptions("% of runs or commits", function (value) {
      return value + "%";
    });
    options.scales.y.ticks = {
      callback: function (value) {
        return value + "%";
      },
    };
    var line = token("--chart-line", "#1b1f24");
    return {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [
          { label: "Failure rate", data: series.failure_rate, backgroundColor: token("--chart-failed", "#b42318") },
          {
            type: "line",
            label: "Flaky rate",
            data: series.flaky_rate,
            borderColor: line,
            backgroundColor: line,
            borderWidth: 2,
            pointRadius: 2.5,
            spanGaps: true,
          },
        ],
      },
      options: options,
    };
  }

  window.e360Charts.keep(function (add) {
    var ages = window.e360Charts.readJson("review-ages");
    if (ages && ages.labels.length) add(document.getElementById("chart-review-ages"), reviewAgesConfig(ages));
    var weeks = window.e360Charts.readJson("pipeline-weeks");
    if (weeks && weeks.labels.length) add(document.getElementById("chart-failure-rate"), failureRateConfig(weeks));
  });
})();
