/*
 * The station page's tabs: each section carries the class "cc-tab-<tab>"; one tab shows at
 * a time and the address remembers it (#tab-commands). Without this script the nav stays
 * hidden and every section shows, one below the other.
 */
(function () {
  "use strict";

  function start() {
    var nav = document.getElementById("cc-station-tabs");
    if (!nav) {
      return;
    }
    // Sections the admin draws itself: the connectors inline, the save buttons.
    var inline = document.getElementById("connectors-group");
    if (inline) {
      inline.classList.add("cc-tab-connectors");
    }
    document.querySelectorAll(".submit-row").forEach(function (row) {
      row.classList.add("cc-tab-overview");
    });
    var links = Array.prototype.slice.call(nav.querySelectorAll("[data-tab]"));
    var keys = links.map(function (link) {
      return link.getAttribute("data-tab");
    });

    function show(key) {
      if (keys.indexOf(key) < 0) {
        key = keys[0];
      }
      links.forEach(function (link) {
        var current = link.getAttribute("data-tab") === key;
        link.classList.toggle("cc-tab-current", current);
        link.setAttribute("aria-current", current ? "page" : "false");
      });
      keys.forEach(function (other) {
        document.querySelectorAll(".cc-tab-" + other).forEach(function (section) {
          if (!nav.contains(section)) {
            section.classList.toggle("cc-tab-hidden", other !== key);
          }
        });
      });
      nav.setAttribute("data-current", key);
    }

    links.forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var key = link.getAttribute("data-tab");
        show(key);
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", "#tab-" + key);
        }
      });
    });
    // A form with errors opens on the tab that holds them.
    var error = document.querySelector(".errorlist");
    var hash = window.location.hash.replace(/^#tab-/, "");
    var key = hash;
    if (error) {
      keys.forEach(function (candidate) {
        var holder = error.closest(".cc-tab-" + candidate);
        if (holder) {
          key = candidate;
        }
      });
    }
    nav.hidden = false;
    show(key);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
