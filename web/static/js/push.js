// "Receive notifications on this browser": registers the service worker, subscribes with the server's
// VAPID key and sends the subscription to the IOC.
(function () {
  "use strict";
  var button = document.getElementById("enable-push");
  if (!button) { return; }
  var state = document.getElementById("push-state");
  var labels = JSON.parse(document.getElementById("push-labels").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function key(b64) {
    var s = atob((b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(s, function (c) { return c.charCodeAt(0); });
  }

  button.addEventListener("click", function () {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) { state.textContent = labels.unsupported; return; }
    Notification.requestPermission().then(function (perm) {
      if (perm !== "granted") { state.textContent = labels.denied; return null; }
      return Promise.all([navigator.serviceWorker.register("/sw.js", { scope: "/" }),
                          fetch(button.dataset.keyUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); })]);
    }).then(function (got) {
      if (!got) { return null; }
      return navigator.serviceWorker.ready.then(function (reg) {
        return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(got[1].public_key) });
      });
    }).then(function (sub) {
      if (!sub) { return null; }
      return fetch(button.dataset.subscribeUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify(sub)
      }).then(function (r) { state.textContent = r.ok ? labels.on : r.status; });
    }).catch(function (e) { state.textContent = String(e); });
  });
})();
