// Answer distributions of the survey results page (surveys/results.html): one bar chart per question.
//
// The data is the json_script block "survey-charts": for each chart {id, horizontal, labels, counts,
// tones}; tones ("favourable", "neutral", "unfavourable") pick colours from the design tokens in
// e360.css, and the table under each chart says the same in words. Reading it and keeping the charts
// in step with the team picker's htmx swaps come from static/e360/charts.js.
(function () {
  "use strict";

  var token = window.e360Charts.token;

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

  window.e360Charts.keep(function (add) {
    var specs = window.e360Charts.readJson("survey-charts") || [];
    specs.forEach(function (spec) {
      add(document.getElementById(spec.id), config(spec));
    });
  });
})();
