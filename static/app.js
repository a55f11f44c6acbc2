// Berth: the little behaviour the pages need beyond htmx. Everything works without it.
(function () {
  "use strict";

  // Relative times ("12m ago") drift while a page stays open; refresh them in place.
  // Same wording as the reltime filter in portal/templatetags/berth.py.
  function span(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60), s = Math.floor(seconds % 60);
    var pairs = [[d, "d", h, "h"], [h, "h", m, "m"], [m, "m", s, "s"]];
    for (var i = 0; i < pairs.length; i++) {
      var p = pairs[i];
      if (p[0]) return p[2] ? p[0] + p[1] + " " + p[2] + p[3] : p[0] + p[1];
    }
    return s + "s";
  }

  function relative(date, now) {
    var seconds = (now - date) / 1000, abs = Math.abs(seconds);
    if (abs < 10) return "just now";
    if (abs >= 30 * 86400) return null; // the server printed the calendar date; keep it
    var text = span(Math.floor(abs));
    return seconds < 0 ? "in " + text : text + " ago";
  }

  function refreshTimes(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[data-relative][datetime]").forEach(function (el) {
      var date = Date.parse(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      var text = relative(date, now);
      if (text !== null && el.textContent !== text) el.textContent = text;
    });
  }

  // details-based menus: close on Escape, on a click elsewhere, and when another opens.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }

  document.addEventListener("click", function (event) {
    var menu = event.target.closest("details.menu");
    closeMenus(menu);
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) dismiss.closest(".message").remove();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.menu[open]");
    if (!open) return;
    open.removeAttribute("open");
    open.querySelector("summary").focus();
  });

  // Forms that destroy something ask first: <form data-confirm="Delete the secret?">.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  function showMessage(level, text) {
    var box = document.getElementById("messages");
    if (!box || !text) return;
    // A polling fragment that keeps failing must not stack up the same message.
    var shown = Array.prototype.some.call(box.querySelectorAll(".message p"), function (p) {
      return p.textContent === text;
    });
    if (shown) return;
    var item = document.createElement("div");
    item.className = "message message-" + (level || "info");
    item.setAttribute("role", level === "error" ? "alert" : "status");
    var p = document.createElement("p");
    p.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "message-close";
    close.setAttribute("aria-label", "Dismiss");
    close.setAttribute("data-dismiss", "");
    close.textContent = "\u00d7";
    item.append(p, close);
    box.append(item);
  }

  // Views send toasts with trigger_client_event(response, "berth:message",
  // {"level": "success", "text": "..."}).
  document.body.addEventListener("berth:message", function (event) {
    showMessage(event.detail && event.detail.level, event.detail && event.detail.text);
  });

  // Without this an htmx request that fails leaves the page silently unchanged.
  document.body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : "";
    showMessage("error", "The server could not do that (HTTP " + status + "). Reload the page and try again.");
  });
  document.body.addEventListener("htmx:sendError", function () {
    showMessage("error", "The server cannot be reached. Check your connection and try again.");
  });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    refreshTimes(event.target);
  });

  refreshTimes();
  window.setInterval(refreshTimes, 20000);
})();
