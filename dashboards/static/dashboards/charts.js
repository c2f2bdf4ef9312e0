// Draws the dashboards' charts with uPlot from the JSON the server rendered next to them
// (<figure class="chart" data-chart="KEY" data-source="JSON-ID">). Without JavaScript, or
// without uPlot, the numbers table under the charts stays open instead.
(function () {
  "use strict";
  if (typeof uPlot === "undefined") return;
  var sources = {};
  function source(id) {
    if (!(id in sources)) {
      var el = document.getElementById(id);
      sources[id] = el ? JSON.parse(el.textContent) : null;
    }
    return sources[id];
  }
  var colours = { rate: "#2457d6", errors: "#d03b2f", latency: "#8a4fd1", budget: "#2e9d4b", burn: "#d07a00" };
  var formats = {
    rate: function (v) { return v.toPrecision(3) + " req/s"; },
    errors: function (v) { return (v * 100).toFixed(2) + " %"; },
    latency: function (v) { return v.toPrecision(3) + " ms"; },
    budget: function (v) { return (v * 100).toFixed(1) + " %"; },
    burn: function (v) { return v.toPrecision(3) + "x"; },
  };

  // Anomalies: a red line plus a link over it at the anomalous minute. Thresholds: dashed lines.
  function overlays(markers, thresholds) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          ctx.save();
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.strokeStyle = "#d03b2f";
          markers.forEach(function (m) {
            var x = Math.round(u.valToPos(m.t, "x", true));
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          });
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.strokeStyle = "#9aa3af";
          ctx.fillStyle = "#5b6472";
          ctx.font = 10 * devicePixelRatio + "px sans-serif";
          thresholds.forEach(function (th) {
            var y = Math.round(u.valToPos(th.value, "y", true));
            if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
            var text = th.label + " " + th.value.toPrecision(3) + "x";  // at the right end, clear of the axis
            ctx.fillText(text, u.bbox.left + u.bbox.width - ctx.measureText(text).width - 4, y - 3);
          });
          ctx.restore();
          u.over.querySelectorAll(".anomaly-marker").forEach(function (el) { el.remove(); });
          markers.forEach(function (m) {
            var a = document.createElement("a");
            a.className = "anomaly-marker";
            a.href = m.href;
            a.title = m.label;
            a.textContent = "!";
            a.style.left = u.valToPos(m.t, "x") + "px";
            u.over.appendChild(a);
          });
        }],
      },
    };
  }

  var plots = [];

  function drawAll() {
    plots.forEach(function (plot) { plot.destroy(); });
    plots = [];
    sources = {};
    document.querySelectorAll("figure.chart[data-chart]").forEach(draw);
  }

  function draw(figure) {
    var key = figure.dataset.chart;
    var data = source(figure.dataset.source || "chart-data");
    if (!data || !data.t.length) return;
    var markers = (data.markers || []).filter(function (m) { return m.chart === key; });
    var thresholds = (data.thresholds || {})[key] || [];
    var format = formats[key] || function (v) { return v.toPrecision(3); };
    var ys = data[key].filter(function (v) { return v != null; }).concat(thresholds.map(function (t) { return t.value; }));
    var low = ys.length ? Math.min(0, Math.min.apply(null, ys)) : 0;
    var high = ys.length ? Math.max.apply(null, ys) * 1.1 : 1;
    plots.push(new uPlot({
      width: Math.max(280, figure.clientWidth - 8),
      height: 180,
      scales: { x: { time: true }, y: { range: [low, high > low ? high : low + 1] } },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },  // as the tables: UTC
      series: [{}, {
        label: figure.querySelector("figcaption").textContent,
        stroke: colours[key] || "#2457d6",
        width: 1.5,
        value: function (u, v) { return v == null ? "–" : format(v); },
      }],
      plugins: [overlays(markers, thresholds)],
    }, [data.t, data[key]], figure));
    figure.dataset.markers = markers.length;
    figure.classList.add("drawn");
    var numbers = figure.closest("section") && figure.closest("section").querySelector("details.numbers");
    if (numbers) numbers.removeAttribute("open");
  }

  drawAll();
  // Live refresh: each poll of the region's live section brings the charts' new data.
  document.body.addEventListener("htmx:afterSettle", function () {
    if (document.getElementById("chart-data")) drawAll();
  });
})();
