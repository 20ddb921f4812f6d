// A filter that applies as soon as it is changed: a <select data-autosubmit> submits its form
// (in place of an onchange attribute, which the Content-Security-Policy does not run).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.submit();
  }
});
