// The instance's BPMN diagram, with its steps marked: done, waiting, overdue, failed (bpmn-js from npm).
(function () {
  "use strict";
  var el = document.getElementById("diagram");
  if (!el || !window.BpmnJS) { return; }
  var viewer = new window.BpmnJS({ container: el });
  function ids(name) { return (el.getAttribute("data-" + name) || "").split(",").filter(Boolean); }
  fetch(el.getAttribute("data-bpmn"), { credentials: "same-origin" })
    .then(function (r) { return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      [["done", "done"], ["active", "active"], ["overdue", "overdue"], ["failed", "failed"]].forEach(function (pair) {
        ids(pair[0]).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "ioc-" + pair[1]); } });
      });
      el.setAttribute("data-rendered", "true");
    })
    .catch(function (err) { el.textContent = String(err); });
})();
