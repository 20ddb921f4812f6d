// Live pages: the alert list and the inbox refresh themselves when something changes (server-sent events;
// the browser reconnects and resumes with Last-Event-ID), and a notification for me shows at once.
(function () {
  "use strict";
  if (!window.EventSource || document.body.classList.contains("wall")) { return; }
  var me = Number(document.body.getAttribute("data-user") || 0);
  var bell = document.getElementById("bell-count");
  var timer = null;

  function reload() {
    fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live]");
      var old = document.querySelector("[data-live]");
      if (fresh && old) { old.replaceWith(fresh); }
    });
  }

  function toast(text) {
    var t = document.createElement("div");
    t.className = "toast"; t.setAttribute("role", "status"); t.textContent = text;
    document.body.appendChild(t);
    setTimeout(function () { t.remove(); }, 8000);
  }

  // Follow the changes from where the stream stood when the server read the page (data-live-since), so that one
  // committed while the page was on its way still refreshes it; reconnections resume with Last-Event-ID.
  var first = document.querySelector("[data-live]");
  var since = first ? first.getAttribute("data-live-since") : "";
  var source = new EventSource("/api/v1/stream" + (since ? "?last_event_id=" + encodeURIComponent(since) : ""));
  // The session was ended (logout in another tab, password changed, signed out everywhere): go to the login.
  source.addEventListener("signed_out", function () {
    source.close();
    window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
  });
  source.addEventListener("change", function (e) {
    var change = JSON.parse(e.data);
    if (change.kind === "notification" && change.user_id === me) {
      if (bell) { bell.textContent = String(Number(bell.textContent || 0) + 1); }
      toast(change.subject);
    }
    var live = document.querySelector("[data-live]");
    if (!live) { return; }
    var wanted = live.getAttribute("data-live").split(" ");
    if (wanted.some(function (k) { return (change.kind || "").indexOf(k) === 0; })) {
      clearTimeout(timer);
      timer = setTimeout(reload, 300);
    }
  });
})();

// Navigation menus: one open at a time, closed by a click elsewhere.
(function () {
  "use strict";
  var menus = Array.prototype.slice.call(document.querySelectorAll("header nav details.menu"));
  menus.forEach(function (m) {
    m.addEventListener("toggle", function () {
      if (m.open) { menus.forEach(function (o) { if (o !== m) { o.open = false; } }); }
    });
  });
  document.addEventListener("click", function (e) {
    menus.forEach(function (m) { if (m.open && !m.contains(e.target)) { m.open = false; } });
  });
}());
