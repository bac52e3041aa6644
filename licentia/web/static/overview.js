// Copy buttons of the integration page: the only script of the overview slice (CSP 'self').
// Buttons start hidden, so without this file the snippets are plain text to select.
(function () {
  "use strict";
  function show(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = !(navigator.clipboard && window.isSecureContext);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { show(document); });
  document.addEventListener("htmx:afterSwap", function (event) { show(event.target.parentNode || document); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    navigator.clipboard.writeText(source.textContent).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    }, function () {
      button.textContent = "Select the text to copy";
    });
  });
})();
