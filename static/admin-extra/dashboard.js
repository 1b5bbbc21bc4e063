/* Draws the dashboard's charts (templates/admin/dashboard.html) with the vendored Chart.js from
   the numbers in the "chart-data" JSON; each chart's table below it holds the same numbers. */
(function () {
  "use strict";
  // Okabe–Ito: told apart by people with any common colour-vision deficiency.
  var COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#999999"];
  var specs = JSON.parse(document.getElementById("chart-data").textContent);
  var charts = [];

  function axis(title, extra) {
    return Object.assign({ title: { display: true, text: title }, beginAtZero: true,
      ticks: { precision: 0 } }, extra || {});
  }

  function build(canvas) {
    var spec = specs[canvas.dataset.chart];
    if (!spec || !spec.labels.length) { canvas.parentNode.hidden = true; return; }
    var horiz = !!spec.horiz;
    var datasets = spec.series.map(function (s, i) {
      var colour = COLOURS[i % COLOURS.length];
      return {
        type: s.type || spec.type, label: s.label, data: s.data,
        backgroundColor: colour, borderColor: colour, borderWidth: s.type === "line" ? 2 : 0,
        pointRadius: s.type === "line" ? 0 : undefined, yAxisID: s.axis || (horiz ? undefined : "y"),
        order: s.type === "line" ? 0 : 1
      };
    });
    var value = { title: { display: true, text: spec.y_title }, beginAtZero: true, stacked: !!spec.stacked };
    var category = { title: { display: true, text: spec.x_title }, stacked: !!spec.stacked,
      ticks: { autoSkip: true, maxRotation: 60 } };
    var scales = horiz ? { x: value, y: Object.assign(category, { ticks: { autoSkip: false } }) }
                       : { x: category, y: value };
    if (spec.y2_title) {
      scales.y2 = axis(spec.y2_title, { position: "right", grid: { drawOnChartArea: false } });
    }
    charts.push(new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horiz ? "y" : "x", responsive: true, maintainAspectRatio: false,
        animation: false, interaction: { mode: "index", intersect: false },
        plugins: {
          title: { display: false },
          legend: { display: datasets.length > 1, position: "bottom",
                    labels: { boxWidth: 14, padding: 8 } }
        },
        scales: scales
      }
    }));
  }

  document.querySelectorAll("canvas[data-chart]").forEach(build);

  // Printing: open every table of numbers, and redraw the charts at the page's width.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.chart-data").forEach(function (d) { d.open = true; });
    charts.forEach(function (c) { c.resize(); });
  });
  window.addEventListener("afterprint", function () { charts.forEach(function (c) { c.resize(); }); });
})();
