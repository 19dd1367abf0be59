// Weekly delivery charts of the delivery pages (metrics/delivery.html).
//
// The data is the json_script block "dora-weekly" (metrics.display.weekly_chart); reading it,
// colours and keeping the charts in step with htmx swaps come from static/e360/charts.js.
(function () {
  "use strict";

  var token = window.e360Charts.token;

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

  // Every chart here stacks its bars (deployments ok and failed, the lead time's stages).
  function baseOptions(yTitle, formatValue) {
    var options = window.e360Charts.axisOptions(yTitle, formatValue);
    options.scales.x.stacked = true;
    options.scales.y.stacked = true;
    return options;
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

  window.e360Charts.keep(function (add) {
    var series = window.e360Charts.readJson("dora-weekly");
    if (!series || !series.labels.length) return;
    add(document.getElementById("chart-frequency"), frequencyConfig(series));
    add(document.getElementById("chart-lead-time"), leadTimeConfig(series));
  });
})();
