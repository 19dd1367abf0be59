// An initiative's charts (actions/initiative_detail.html), per primary metric: the weekly timeline of the
// initiative's teams and of the comparison teams with each start marked, and the pre-period trends side by side.
//
// The data is the json_script block "initiative-charts" (actions.initiative_report: MetricReport.chart). No
// annotation plugin is vendored, so a start is drawn as a dataset of its own: two points at the start's week,
// from the lowest to the highest value shown, which the line joins into a vertical rule.
(function () {
  "use strict";

  var token = window.e360Charts.token;

  function formatter(unit) {
    var suffix = unit === "%" ? "%" : " " + unit;
    return function (value) {
      return Math.round(value * 100) / 100 + suffix;
    };
  }

  function extent(lists) {
    var values = [];
    lists.forEach(function (list) {
      list.forEach(function (value) {
        if (value !== null) values.push(value);
      });
    });
    if (!values.length) return null;
    return [Math.min.apply(null, values), Math.max.apply(null, values)];
  }

  function line(label, data, colour, dashed) {
    return {
      label: label,
      data: data,
      borderColor: colour,
      backgroundColor: colour,
      borderWidth: 2,
      borderDash: dashed ? [6, 4] : [],
      pointRadius: 2,
      spanGaps: false,
    };
  }

  function timelineConfig(chart) {
    var options = window.e360Charts.axisOptions(chart.label + " (" + chart.unit + ")", formatter(chart.unit));
    options.scales.y.beginAtZero = false;
    var datasets = [line("Initiative's teams", chart.treated, token("--chart-line", "#1b1f24"), false)];
    if (chart.comparison.some(function (value) { return value !== null; })) {
      datasets.push(line("Comparison teams", chart.comparison, token("--chart-ok", "#0b5cad"), true));
    }
    var range = extent([chart.treated, chart.comparison]);
    var marker = token("--chart-failed", "#b42318");
    if (range) {
      chart.starts.forEach(function (start, n) {
        datasets.push({
          label: n === 0 ? "Start" : "Later start",
          data: [{ x: start, y: range[0] }, { x: start, y: range[1] }],
          borderColor: marker,
          backgroundColor: marker,
          borderWidth: 2,
          pointRadius: 0,
        });
      });
    }
    // The start's points are not weeks: leave them out of the tooltip of a week.
    options.plugins.tooltip.filter = function (item) {
      return item.dataset.label !== "Start" && item.dataset.label !== "Later start";
    };
    return { type: "line", data: { labels: chart.labels, datasets: datasets }, options: options };
  }

  function trendConfig(chart) {
    var trend = chart.trend;
    var options = window.e360Charts.axisOptions("Difference from its average (" + chart.unit + ")", formatter(chart.unit));
    options.scales.y.beginAtZero = false;
    var datasets = [line("Initiative's teams", trend.treated, token("--chart-line", "#1b1f24"), false)];
    if (trend.comparison.some(function (value) { return value !== null; })) {
      datasets.push(line("Comparison teams", trend.comparison, token("--chart-ok", "#0b5cad"), true));
    }
    return { type: "line", data: { labels: trend.labels, datasets: datasets }, options: options };
  }

  window.e360Charts.keep(function (add) {
    var charts = window.e360Charts.readJson("initiative-charts") || [];
    charts.forEach(function (chart) {
      if (chart.labels.length) add(document.getElementById("chart-timeline-" + chart.key), timelineConfig(chart));
      if (chart.trend.labels.length) add(document.getElementById("chart-trend-" + chart.key), trendConfig(chart));
    });
  });
})();
