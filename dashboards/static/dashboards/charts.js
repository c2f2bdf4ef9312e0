// Draws the region page's charts with uPlot from the #chart-data JSON the server rendered.
// Without JavaScript (or uPlot) the numbers table under the charts stays open instead.
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || typeof uPlot === "undefined") return;
  var data = JSON.parse(source.textContent);
  var units = { rate: " req/s", errors: "", latency: " ms" };

  // Anomalies: a red line on the canvas plus a link over it, placed at the anomalous minute.
  function markersPlugin(markers) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#d03b2f";
          ctx.lineWidth = 2 * devicePixelRatio;
          markers.forEach(function (m) {
            var x = Math.round(u.valToPos(m.t, "x", true));
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          });
          ctx.restore();
          var layer = u.over;
          layer.querySelectorAll(".anomaly-marker").forEach(function (el) { el.remove(); });
          markers.forEach(function (m) {
            var a = document.createElement("a");
            a.className = "anomaly-marker";
            a.href = m.href;
            a.title = m.label;
            a.textContent = "!";
            a.style.left = u.valToPos(m.t, "x") + "px";
            layer.appendChild(a);
          });
        }],
      },
    };
  }

  document.querySelectorAll("figure.chart[data-chart]").forEach(function (figure) {
    var key = figure.dataset.chart;
    var markers = data.markers.filter(function (m) { return m.chart === key; });
    var opts = {
      width: Math.max(280, figure.clientWidth - 8),
      height: 180,
      legend: { show: true },
      scales: { x: { time: true } },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },  // as the tables: UTC
      series: [{}, {
        label: figure.querySelector("figcaption").textContent,
        stroke: key === "errors" ? "#d03b2f" : key === "latency" ? "#8a4fd1" : "#2457d6",
        width: 1.5,
        value: function (u, v) {
          if (v == null) return "–";
          return key === "errors" ? (v * 100).toFixed(2) + " %" : v.toPrecision(3) + units[key];
        },
      }],
      plugins: [markersPlugin(markers)],
    };
    figure.dataset.markers = markers.length;
    new uPlot(opts, [data.t, data[key]], figure);
    figure.classList.add("drawn");
  });
  var numbers = document.querySelector("details.numbers");
  if (numbers) numbers.removeAttribute("open");
})();
