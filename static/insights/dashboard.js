// The leader dashboards (insights/dashboard.html): a sparkline in each DORA tile, and on a team's
// dashboard the weekly change failure rate and recovery time charts. The deployments and lead time
// charts are the delivery page's own (static/metrics/dora-charts.js, the same canvases and data).
//
// The data is the json_script block "dashboard-series" (insights.selectors.delivery); reading it,
// colours and keeping the charts in step with htmx swaps come from static/e360/charts.js. Every figure
// drawn here is also in a table on the page: the canvases are pictures of them.
(function () {
  "use strict";

  var charts = window.e360Charts;
  var token = charts.token;

  function hours(value) {
    if (value === null) return "no data";
    if (value < 1) return Math.round(value * 60) + " min";
    if (value < 48) return Math.round(value * 10) / 10 + " h";
    return Math.round((value / 24) * 10) / 10 + " days";
  }

  function percent(value) {
    return value === null ? "no data" : value + "%";
  }

  function count(value) {
    return value === null ? "no data" : value + (value === 1 ? " deployment" : " deployments");
  }

  var SPARKLINES = {
    frequency: { colour: "--chart-ok", format: count },
    "lead-time": { colour: "--chart-line", format: hours },
    "failure-rate": { colour: "--chart-failed", format: percent },
    recovery: { colour: "--chart-review", format: hours },
    rework: { colour: "--chart-pickup", format: percent },
  };

  function tooltip(format) {
    return {
      displayColors: false,
      callbacks: {
        label: function (context) {
          return format(context.parsed.y);
        },
      },
    };
  }

  // The line spans weeks without a figure; a series with a single figure would draw nothing: a dot.
  function loneDot(context) {
    var known = context.dataset.data.filter(function (value) {
      return value !== null;
    });
    return known.length === 1 && context.dataset.data[context.dataIndex] !== null ? 2.5 : 0;
  }

  function sparklineConfig(labels, values, spec) {
    var colour = token(spec.colour, "#0b5cad");
    return {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          {
            data: values,
            borderColor: colour,
            backgroundColor: colour,
            borderWidth: 2,
            pointRadius: loneDot,
            pointHoverRadius: 3,
            pointHitRadius: 6,
            spanGaps: true,
            tension: 0.2,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        layout: { padding: 3 },
        plugins: { legend: { display: false }, tooltip: tooltip(spec.format) },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      },
    };
  }

  function barConfig(labels, values, colourToken, yTitle, format) {
    var options = charts.axisOptions(yTitle, format);
    options.plugins = { legend: { display: false }, tooltip: tooltip(format) };
    return {
      type: "bar",
      data: { labels: labels, datasets: [{ label: yTitle, data: values, backgroundColor: token(colourToken, "#57606a") }] },
      options: options,
    };
  }

  charts.keep(function (add) {
    var series = charts.readJson("dashboard-series");
    if (!series || !series.labels.length) return;
    Object.keys(SPARKLINES).forEach(function (key) {
      var values = series.sparklines[key];
      if (values) add(document.getElementById("spark-" + key), sparklineConfig(series.labels, values, SPARKLINES[key]));
    });
    add(
      document.getElementById("chart-failure-rate"),
      barConfig(series.labels, series.sparklines["failure-rate"], "--chart-failed", "Change failure rate (%)", percent)
    );
    add(
      document.getElementById("chart-recovery"),
      barConfig(series.labels, series.sparklines.recovery, "--chart-review", "Median recovery (hours)", hours)
    );
  });

  // The charts point to the weekly table: following the link opens it too.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('a[href="#weekly"]');
    var table = link && document.getElementById("weekly");
    if (table) table.open = true;
  });
})();
