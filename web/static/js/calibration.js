// Calibration editor: draw a camera's road area, stop line, traffic-light region, lanes, counting lines and
// no-stopping zones on a snapshot (image pixels), see them as SVG over it, and save them through the API, which
// checks them (a point outside the image is refused with the item's name). Also starts the live view.
(function () {
  "use strict";
  var root = document.getElementById("calibration-editor");
  var live = document.getElementById("live");
  var liveStart = document.getElementById("live-start");
  if (liveStart && live) {
    liveStart.addEventListener("click", function () {
      live.hidden = false;
      live.src = live.dataset.src;
      liveStart.disabled = true;
    });
  }
  if (!root) { return; }
  var img = document.getElementById("cal-snapshot");
  var svg = document.getElementById("cal-overlay");
  var list = document.getElementById("cal-items");
  var json = document.getElementById("cal-json");
  var editable = root.dataset.editable === "yes";
  var cal = JSON.parse(root.dataset.calibration || "{}") || {};
  var L = JSON.parse(root.dataset.labels || "{}");
  var pending = [];
  var NS = "http://www.w3.org/2000/svg";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function ensure() {
    cal.lanes = cal.lanes || [];
    cal.counting_lines = cal.counting_lines || [];
    cal.zones = cal.zones || [];
  }

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    svg.appendChild(node);
    return node;
  }

  function pts(points) { return points.map(function (p) { return p[0] + "," + p[1]; }).join(" "); }

  function draw() {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    if (!cal.width) { return; }
    svg.setAttribute("viewBox", "0 0 " + cal.width + " " + cal.height);
    var stroke = Math.max(2, cal.width / 400);
    if (cal.road) { el("polygon", { points: pts(cal.road), class: "cal-road", "stroke-width": stroke }); }
    cal.lanes.forEach(function (l) {
      el("polygon", { points: pts(l.polygon), class: "cal-lane", "stroke-width": stroke });
      el("text", { x: l.polygon[0][0] + 8, y: l.polygon[0][1] + 8 + 6 * stroke, class: "cal-label",
                   "font-size": 8 * stroke }, l.name + (l.kinds && l.kinds.length < 4 ? " (" + l.kinds.join(", ") + ")" : ""));
    });
    cal.zones.forEach(function (z) {
      el("polygon", { points: pts(z.polygon), class: z.rule === "crowd" ? "cal-crowd" : "cal-zone", "stroke-width": stroke });
    });
    cal.counting_lines.forEach(function (c) {
      el("line", { x1: c.segment[0][0], y1: c.segment[0][1], x2: c.segment[1][0], y2: c.segment[1][1],
                   class: "cal-count", "stroke-width": stroke });
    });
    if (cal.stop_line) {
      var s = cal.stop_line.segment;
      el("line", { x1: s[0][0], y1: s[0][1], x2: s[1][0], y2: s[1][1], class: "cal-stop", "stroke-width": 2 * stroke });
    }
    if (cal.light) {
      el("rect", { x: cal.light[0], y: cal.light[1], width: cal.light[2], height: cal.light[3], class: "cal-light",
                   "stroke-width": stroke });
    }
    if (pending.length) {
      el("polyline", { points: pts(pending), class: "cal-pending", "stroke-width": stroke });
      pending.forEach(function (p) { el("circle", { cx: p[0], cy: p[1], r: 2 * stroke, class: "cal-point" }); });
    }
    list.innerHTML = "";
    describe().forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item.label + " ";
      if (editable) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = "✕";
        b.setAttribute("aria-label", L.remove + " " + item.label);
        b.addEventListener("click", function () { item.remove(); changed(); });
        li.appendChild(b);
      }
      list.appendChild(li);
    });
    if (json && document.activeElement !== json) { json.value = JSON.stringify(cal, null, 2); }
  }

  function describe() {
    var out = [];
    if (cal.road) { out.push({ label: L.road + " (" + cal.road.length + ")", remove: function () { cal.road = null; } }); }
    if (cal.stop_line) { out.push({ label: L.stop_line, remove: function () { cal.stop_line = null; } }); }
    if (cal.light) { out.push({ label: L.light, remove: function () { cal.light = null; } }); }
    cal.lanes.forEach(function (l, i) { out.push({ label: L.lane + " " + l.name, remove: function () { cal.lanes.splice(i, 1); } }); });
    cal.counting_lines.forEach(function (c, i) {
      out.push({ label: L.counting_line + " " + c.name, remove: function () { cal.counting_lines.splice(i, 1); } });
    });
    cal.zones.forEach(function (z, i) {
      var label = z.rule === "crowd" ? L.crowd + " " + z.name + " (≥ " + (z.min_people || 5) + ")" : L.zone + " " + z.name;
      out.push({ label: label, remove: function () { cal.zones.splice(i, 1); } });
    });
    return out;
  }

  function changed() { pending = []; draw(); }

  function tool() { return document.getElementById("cal-tool").value; }
  function nameOf() { return (document.getElementById("cal-name").value || "A").trim(); }

  function finish() {
    var t = tool();
    if ((t === "road" || t === "lane" || t === "zone" || t === "crowd") && pending.length >= 3) {
      if (t === "road") { cal.road = pending; }
      if (t === "lane") {
        var kinds = document.getElementById("cal-kinds").value;
        var lane = { name: nameOf(), polygon: pending };
        if (kinds) { lane.kinds = [kinds]; }
        cal.lanes.push(lane);
      }
      if (t === "zone") { cal.zones.push({ name: nameOf(), polygon: pending, rule: "no_stopping" }); }
      if (t === "crowd") {
        var people = parseInt(document.getElementById("cal-people").value, 10) || 5;
        cal.zones.push({ name: nameOf(), polygon: pending, rule: "crowd", min_people: people });
      }
      changed();
    }
  }

  function click(evt) {
    if (!editable || !cal.width) { return; }
    var box = img.getBoundingClientRect();
    var p = [Math.round((evt.clientX - box.left) * cal.width / box.width),
             Math.round((evt.clientY - box.top) * cal.height / box.height)];
    pending.push(p);
    var t = tool();
    if (pending.length === 2 && t === "stop_line") {
      cal.stop_line = { name: "stop", segment: pending, forward: 1, one_way: false };
      changed();
      return;
    }
    if (pending.length === 2 && t === "counting_line") {
      cal.counting_lines.push({ name: nameOf(), segment: pending, forward: 1, one_way: true });
      changed();
      return;
    }
    if (pending.length === 2 && t === "light") {
      var x = Math.min(pending[0][0], pending[1][0]), y = Math.min(pending[0][1], pending[1][1]);
      cal.light = [x, y, Math.abs(pending[0][0] - pending[1][0]), Math.abs(pending[0][1] - pending[1][1])];
      changed();
      return;
    }
    draw();
  }

  function save() {
    var status = document.getElementById("cal-status");
    var problems = document.getElementById("cal-problems");
    problems.innerHTML = "";
    status.textContent = L.saving;
    fetch(root.dataset.save, {
      method: "PUT", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(cal)
    }).then(function (resp) {
      return resp.json().then(function (body) { return { ok: resp.ok, body: body }; });
    }).then(function (r) {
      if (r.ok) {
        status.textContent = L.saved;
        return;
      }
      status.textContent = r.body.message || L.not_saved;
      ((r.body.details || {}).problems || []).forEach(function (p) {
        var li = document.createElement("li");
        li.textContent = p;
        problems.appendChild(li);
      });
    }).catch(function () { status.textContent = L.offline; });
  }

  function sized() {
    if (!cal.width) { cal.width = img.naturalWidth; cal.height = img.naturalHeight; }
    ensure();
    draw();
  }

  // The snapshot comes from the server's copy at once: a picture (with the time it was taken) or a placeholder
  // while the camera is read (asked again each second) or when it cannot be read (said beside it). The image's
  // size sets the calibration's only when it is a picture of the camera.
  var note = document.getElementById("cal-snapshot-note");
  var isPicture = false;

  function tell(state, taken) {
    var parts = [];
    if (state === "pending") { parts.push(L.snapshot_pending); }
    if (state === "unreachable") { parts.push(L.snapshot_unreachable); }
    if (taken) {
      var lang = document.documentElement.lang || "vi";
      parts.push(L.snapshot_taken + " " + new Date(taken).toLocaleString(lang, { timeZone: "Asia/Ho_Chi_Minh" }));
    }
    note.textContent = parts.join(". ");
    note.className = state === "unreachable" ? "field-error" : "muted";
  }

  function loadSnapshot(tries) {
    fetch(img.dataset.src, { credentials: "same-origin", cache: "no-store" }).then(function (resp) {
      var state = resp.headers.get("X-Snapshot-State") || "unreachable";
      var taken = resp.headers.get("X-Snapshot-Taken");
      return resp.blob().then(function (blob) {
        tell(state, taken);
        if (blob.type.indexOf("image/") === 0) {
          var old = img.src;
          isPicture = !!taken;
          img.src = URL.createObjectURL(blob);
          if (old.indexOf("blob:") === 0) { URL.revokeObjectURL(old); }
        }
        if ((state === "pending" || state === "stale") && tries < 60) {
          setTimeout(function () { loadSnapshot(tries + 1); }, 1000);
        }
      });
    }).catch(function () { note.textContent = L.offline; });
  }

  ensure();
  img.addEventListener("load", function () { if (isPicture || cal.width) { sized(); } });
  loadSnapshot(0);
  svg.addEventListener("click", click);
  if (editable) {
    document.getElementById("cal-finish").addEventListener("click", finish);
    document.getElementById("cal-undo").addEventListener("click", function () { pending.pop(); draw(); });
    document.getElementById("cal-save").addEventListener("click", save);
    json.addEventListener("change", function () {
      try { cal = JSON.parse(json.value); ensure(); changed(); } catch (e) { /* left as typed until valid */ }
    });
  }
}());
