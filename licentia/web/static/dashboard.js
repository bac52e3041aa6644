// The dashboard's one page-wide script (CSP 'self', no inline code).
// 1. On small windows the header navigation folds behind a "Menu" button; without this
//    file it simply stays open (the CSS folds it only under html.js).
// 2. A list or code block that scrolls sideways inside its box gets tabindex=0, so a
//    keyboard user can focus and scroll it (WCAG 2.1.1; axe "scrollable-region-focusable").
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var SCROLLERS = "table, pre, .scroll";

  function focusable(root) {
    (root || document).querySelectorAll(SCROLLERS).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      var inside = box.parentElement && box.parentElement.closest(".scroll");
      if (scrolls && !inside && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-focus", "");
      } else if (!scrolls && box.hasAttribute("data-scroll-focus")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusable(document);
    var button = document.querySelector("button.nav-toggle");
    var nav = document.getElementById("main-nav");
    if (button && nav) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
  });
  document.addEventListener("htmx:afterSwap", function () { focusable(document); });
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { focusable(document); }, 150);
  });
})();
