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

  // An element with its class and text (set as text: titles come from the data).
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = String(text); }
    return node;
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
      var td = el("td", "", labels.no_waiting);
      td.colSpan = 4;
      body.appendChild(el("tr", "none")).appendChild(td);
      return;
    }
    steps.forEach(function (w) {
      var tr = body.appendChild(el("tr"));
      tr.appendChild(el("td", "", w.process_name));
      tr.appendChild(el("td", "", w.name));
      tr.appendChild(el("td", "num", w.open));
      tr.appendChild(el("td", w.overdue ? "num late" : "num", w.overdue));
    });
  }

  // The directives in progress: departments done of all, overdue ones.
  function renderDirectives(list) {
    var ul = document.getElementById("directives");
    if (!ul || !list) { return; }
    ul.textContent = "";
    if (!list.length) {
      ul.appendChild(el("li", "none muted", labels.no_directive));
      return;
    }
    list.forEach(function (d) {
      var li = ul.appendChild(el("li"));
      li.appendChild(el("span", "title", d.title));
      li.appendChild(el("span", "muted", " " + fill(labels.departments_done, d)));
      if (d.overdue) {
        li.appendChild(document.createTextNode(" "));
        li.appendChild(el("span", "badge escalated", fill(labels.n_overdue, { n: d.overdue })));
      }
      var bar = li.appendChild(el("progress"));
      bar.max = d.total || 1; bar.value = d.done;
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
  source.addEventListener("signed_out", function () {
    source.close();
    window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
  });
  source.onopen = function () { live.textContent = labels.live; live.classList.add("on"); };
  source.onerror = function () { live.textContent = labels.offline; live.classList.remove("on"); };
  window.iocWall = { refresh: refresh };
})();
