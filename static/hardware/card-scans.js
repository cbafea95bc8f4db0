/* Last card scans: reload the list when this node's scanner reads a card.
 *
 * Listens on the control center's live socket (/admin/live/) for "card" events. Where the
 * socket is refused (a user who may not watch the stations), it reloads every 15 s instead.
 * A reload waits while the operator is using the page (a button in focus).
 */
(function () {
  "use strict";

  var FALLBACK_MS = 15000;

  function reload() {
    var active = document.activeElement;
    if (active && active.tagName === "BUTTON") {
      window.setTimeout(reload, 2000);
      return;
    }
    window.location.reload();
  }

  function poll() {
    window.setTimeout(reload, FALLBACK_MS);
  }

  if (!window.WebSocket) {
    poll();
    return;
  }
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var socket = new WebSocket(scheme + window.location.host + "/admin/live/");
  socket.onmessage = function (message) {
    var event = JSON.parse(message.data);
    if (event.kind === "card") {
      reload();
    }
  };
  socket.onclose = function () {
    // Refused or dropped: reload on a timer (a reload opens the socket again).
    poll();
  };
})();
