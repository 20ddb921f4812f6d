// IOC service worker: shows web pushes (alert notifications) and opens the alert when one is clicked.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { title: event.data && event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "IOC", {
    body: data.body || "", tag: data.tag, data: { url: data.url || "/alerts" }, renotify: true
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});
