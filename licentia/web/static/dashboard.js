// The dashboard's one page-wide script (CSP 'self', no inline code): on small windows the
// header navigation folds behind a "Menu" button. Without this file the navigation simply
// stays open (the CSS folds it only under html.js).
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("button.nav-toggle");
    var nav = document.getElementById("main-nav");
    if (!button || !nav) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });
})();
