// The wall: counts refresh as soon as anything changes (server-sent events from /api/v1/stream).
(function () {
  "use strict";
  var labels = JSON.parse(document.getElementById("labels").textContent);
  var live = document.getElementById("live");
  var pending = null;

  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, obj);
  }

  function render(summary) {
    document.querySelectorAll("[data-k]").forEach(function (el) {
      var v = String(get(summary, el.getAttribute("data-k")));
      if (el.textContent !== v) {
        el.textContent = v;
        el.classList.remove("bump"); void el.offsetWidth; el.classList.add("bump");
      }
    });
    var feed = document.getElementById("feed");
    feed.textContent = "";
    summary.latest_alerts.forEach(function (a) {
      var li = document.createElement("li");
      var sev = document.createElement("span");
      sev.className = "sev " + a.severity;
      sev.textContent = labels.severity[a.severity] || a.severity;
      var extra = document.createElement("span");
      extra.className = "muted";
      extra.textContent = " ×" + a.count + " · " + (labels.status[a.status] || a.status);
      li.appendChild(sev);
      li.appendChild(document.createTextNode(" " + a.title + " "));
      li.appendChild(extra);
      if (a.escalation_level && !a.acknowledged) {
        var badge = document.createElement("span");
        badge.className = "badge escalated";
        badge.textContent = labels.escalated;
        li.appendChild(document.createTextNode(" "));
        li.appendChild(badge);
      }
      feed.appendChild(li);
    });
  }

  function refresh() {
    pending = null;
    fetch("/api/v1/wall", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) { render(s); } });
  }

  var source = new EventSource("/api/v1/stream");
  source.addEventListener("snapshot", function (e) {
    live.textContent = labels.live; live.classList.add("on");
    render(JSON.parse(e.data));
  });
  source.addEventListener("change", function () {
    if (!pending) { pending = setTimeout(refresh, 300); }
  });
  source.onopen = function () { live.textContent = labels.live; live.classList.add("on"); };
  source.onerror = function () { live.textContent = labels.offline; live.classList.remove("on"); };
  window.iocWall = { refresh: refresh };
})();
