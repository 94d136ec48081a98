/* Draws the dashboard's measures chart from the figure JSON the page carries
   (<script type="application/json" id="measures-figure">), with the plotly.js this server
   serves. A static file, so the Content-Security-Policy needs no inline script. */
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("measures-figure");
    var target = document.getElementById("measures-chart");
    if (!source || !target || !window.Plotly) {
      return;
    }
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(target, figure.data, figure.layout, {
      displaylogo: false,
      responsive: true
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
