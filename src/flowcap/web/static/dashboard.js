/* Draws the dashboard's measures chart: fetches its figure (JSON) from the address the chart's
   element names (data-figure; the browser keeps it and revalidates it with its ETag) and
   draws it with the plotly.js this server serves. A static file, so the
   Content-Security-Policy needs no inline script. */
(function () {
  "use strict";

  function draw() {
    var target = document.getElementById("measures-chart");
    if (!target || !target.dataset.figure || !window.Plotly) {
      return;
    }
    fetch(target.dataset.figure, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the chart could not be loaded (HTTP " + response.status + ")");
        }
        return response.json();
      })
      .then(function (figure) {
        window.Plotly.newPlot(target, figure.data, figure.layout, {
          displaylogo: false,
          responsive: true
        });
      })
      .catch(function (error) {
        target.textContent = String(error.message || error) + ": the tables below give the numbers.";
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
