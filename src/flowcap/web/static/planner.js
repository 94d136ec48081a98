/* Draws a planner run's backlog fan from the figure JSON its element carries
   (<div data-figure="...">), with the plotly.js this server serves: on load, and again when
   htmx swaps in a finished run's result while the page polls. A static file, so the
   Content-Security-Policy needs no inline script. */
(function () {
  "use strict";

  function draw() {
    if (!window.Plotly) {
      return;
    }
    var targets = document.querySelectorAll("[data-figure]:not([data-drawn])");
    Array.prototype.forEach.call(targets, function (target) {
      var figure = JSON.parse(target.getAttribute("data-figure"));
      target.setAttribute("data-drawn", "true");
      window.Plotly.newPlot(target, figure.data, figure.layout, {
        displaylogo: false,
        responsive: true
      });
    });
  }

  document.addEventListener("htmx:afterSettle", draw);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
