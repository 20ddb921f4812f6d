// The sea map of the fisheries monitor: zones, ports and vessels on a canvas (smooth with thousands of vessels),
// and a vessel's track with a slider that replays it.
(function () {
  "use strict";
  var canvas = document.getElementById("seamap");
  if (!canvas) { return; }
  var ctx = canvas.getContext("2d");
  var zones = JSON.parse(document.getElementById("zones-data").textContent);
  var box = { lon0: 105.3, lon1: 107.9, lat0: 18.8, lat1: 20.7 };
  function xy(lon, lat) {
    return [(lon - box.lon0) / (box.lon1 - box.lon0) * canvas.width,
            (box.lat1 - lat) / (box.lat1 - box.lat0) * canvas.height];
  }
  var fills = { zone: { ven_bo: "#dbeafe", long: "#bfdbfe", khoi: "#eff6ff" }, port: "#fde68a", land: "#e7e5e4" };
  function ring(coords) {
    ctx.beginPath();
    coords.forEach(function (c, i) { var p = xy(c[0], c[1]); if (i) { ctx.lineTo(p[0], p[1]); } else { ctx.moveTo(p[0], p[1]); } });
    ctx.closePath();
  }
  function background() {
    ctx.fillStyle = "#f8fafc"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    zones.features.forEach(function (f) {
      var p = f.properties || {};
      var polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
      polys.forEach(function (poly) {
        ring(poly[0]);
        if (p.layer === "boundary") { ctx.strokeStyle = "#b91c1c"; ctx.setLineDash([6, 4]); ctx.stroke(); ctx.setLineDash([]); return; }
        ctx.fillStyle = p.layer === "zone" ? fills.zone[p.zone] : fills[p.layer] || "#eee";
        ctx.fill(); ctx.strokeStyle = "#94a3b8"; ctx.stroke();
      });
      if (p.layer === "port" && p.center) { var c = xy(p.center[0], p.center[1]); ctx.fillStyle = "#78350f"; ctx.font = "11px sans-serif"; ctx.fillText(p.name, c[0] - 60, c[1] + 4); }
    });
  }
  var points = document.getElementById("points-data");
  var track = document.getElementById("track-data");
  background();
  if (points) {
    JSON.parse(points.textContent).forEach(function (v) {
      var p = xy(v.lon, v.lat);
      ctx.beginPath(); ctx.arc(p[0], p[1], v.flag ? 4.5 : 2.5, 0, 2 * Math.PI);
      ctx.fillStyle = v.flag ? "#dc2626" : (v.registered ? "#1d4ed8" : "#6b7280"); ctx.fill();
    });
  }
  if (track) {
    var fixes = JSON.parse(track.textContent);
    var slider = document.getElementById("replay");
    var label = document.getElementById("replay-time");
    function draw(upto) {
      background();
      ctx.beginPath();
      fixes.slice(0, upto + 1).forEach(function (f, i) { var p = xy(f.lon, f.lat); if (i) { ctx.lineTo(p[0], p[1]); } else { ctx.moveTo(p[0], p[1]); } });
      ctx.strokeStyle = "#1d4ed8"; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1;
      if (fixes.length) { var last = xy(fixes[upto].lon, fixes[upto].lat); ctx.beginPath(); ctx.arc(last[0], last[1], 5, 0, 2 * Math.PI); ctx.fillStyle = "#dc2626"; ctx.fill(); label.textContent = new Date(fixes[upto].t).toLocaleString("vi-VN"); }
    }
    if (slider) { slider.max = Math.max(fixes.length - 1, 0); slider.value = slider.max; slider.addEventListener("input", function () { draw(Number(slider.value)); }); }
    draw(Math.max(fixes.length - 1, 0));
  }
})();
