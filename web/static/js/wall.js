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
    renderWaiting(summary.waiting_steps);
    renderDirectives(summary.directives);
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = String(text);
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, k) { return String(values[k]); });
  }

  // Where work waits: open tasks by process and step.
  function renderWaiting(steps) {
    var body = document.querySelector("#waiting tbody");
    if (!body || !steps) { return; }
    body.textContent = "";
    if (!steps.length) {
      var none = document.createElement("tr");
      none.className = "none";
      var td = document.createElement("td");
      td.colSpan = 4; td.textContent = labels.no_waiting;
      none.appendChild(td); body.appendChild(none);
      return;
    }
    steps.forEach(function (w) {
      var tr = document.createElement("tr");
      cell(tr, w.process_name); cell(tr, w.name); cell(tr, w.open, "num");
      cell(tr, w.overdue, w.overdue ? "num late" : "num");
      body.appendChild(tr);
    });
  }

  // The directives in progress: departments done of all, overdue ones.
  function renderDirectives(list) {
    var ul = document.getElementById("directives");
    if (!ul || !list) { return; }
    ul.textContent = "";
    if (!list.length) {
      var none = document.createElement("li");
      none.className = "none muted"; none.textContent = labels.no_directive;
      ul.appendChild(none);
      return;
    }
    list.forEach(function (d) {
      var li = document.createElement("li");
      var title = document.createElement("span");
      title.className = "title"; title.textContent = d.title;
      var done = document.createElement("span");
      done.className = "muted"; done.textContent = " " + fill(labels.departments_done, d);
      li.appendChild(title); li.appendChild(done);
      if (d.overdue) {
        var badge = document.createElement("span");
        badge.className = "badge escalated"; badge.textContent = fill(labels.n_overdue, { n: d.overdue });
        li.appendChild(document.createTextNode(" ")); li.appendChild(badge);
      }
      var bar = document.createElement("progress");
      bar.max = d.total || 1; bar.value = d.done;
      li.appendChild(bar);
      ul.appendChild(li);
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
