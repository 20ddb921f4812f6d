// The designer: edit a BPMN model in the browser (bpmn-js Modeler from npm), check it, deploy it.
(function () {
  "use strict";
  var labels = JSON.parse(document.getElementById("designer-labels").textContent);
  var container = document.getElementById("modeler");
  var result = document.getElementById("result");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var modeler = new window.BpmnJS({ container: container, keyboard: { bindTo: document } });
  var marked = [];

  function show(kind, text) {
    result.className = "flash " + (kind === "ok" ? "ok" : "error");
    result.textContent = text;
  }

  function load(xml) {
    return modeler.importXML(xml).then(function () {
      modeler.get("canvas").zoom("fit-viewport");
      container.setAttribute("data-loaded", "true");
    });
  }

  function unmark() {
    var canvas = modeler.get("canvas");
    marked.forEach(function (id) { canvas.removeMarker(id, "ioc-failed"); });
    marked = [];
  }

  function send(path) {
    unmark();
    return modeler.saveXML({ format: true }).then(function (out) {
      var form = new FormData();
      var name = document.getElementById("file-name").value || "process.bpmn";
      form.append("file", new Blob([out.xml], { type: "application/xml" }), name);
      return fetch(path, { method: "POST", body: form, credentials: "same-origin",
                           headers: { "X-CSRFToken": csrf } });
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    });
  }

  function report(answer, okText) {
    if (answer.ok) {
      show("ok", okText(answer.body));
      return;
    }
    var d = answer.body.details || {};
    var where = [d.line ? labels.line + " " + d.line : "", d.element ? labels.element + " " + d.element : ""]
      .filter(Boolean).join(", ");
    show("error", labels.error + ": " + answer.body.message + (where ? " (" + where + ")" : ""));
    if (d.element && modeler.get("elementRegistry").get(d.element)) {
      modeler.get("canvas").addMarker(d.element, "ioc-failed");
      marked.push(d.element);
    }
  }

  document.getElementById("validate").addEventListener("click", function () {
    send("/api/v1/processes/validate").then(function (a) {
      report(a, function () { return labels.ok; });
    });
  });
  document.getElementById("deploy").addEventListener("click", function () {
    send("/api/v1/processes").then(function (a) {
      report(a, function (body) {
        return labels.deployed + ": " + body.map(function (p) {
          var note = p.status === "pending" ? " (" + labels.pending + ")" :
            p.status === "rejected" ? " (" + labels.rejected + ")" : "";
          return p.process_key + " v" + p.version + note;
        }).join(", ");
      });
    });
  });
  document.getElementById("download").addEventListener("click", function () {
    modeler.saveXML({ format: true }).then(function (out) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([out.xml], { type: "application/xml" }));
      a.download = document.getElementById("file-name").value || "process.bpmn";
      a.click();
    });
  });
  document.getElementById("open-file").addEventListener("change", function (e) {
    var file = e.target.files[0];
    if (!file) { return; }
    document.getElementById("file-name").value = file.name;
    file.text().then(load);
  });

  var url = container.getAttribute("data-xml-url");
  if (url) {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(load);
  } else {
    load(document.getElementById("blank-bpmn").textContent);
  }
  window.iocDesigner = { modeler: modeler, load: load };
})();
