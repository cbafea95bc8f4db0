/* Control center: patch the server-rendered page with live events from /admin/live/.
 *
 * The page works without this script; with it, the station, connector, transaction,
 * command and security rows change as the server publishes events. No polling: one
 * websocket, reopened with a growing delay when it drops. Event text goes into the page
 * through textContent only.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-live-path]");
  var labelsNode = document.getElementById("cc-live-labels");
  if (!root || !labelsNode || !window.WebSocket) {
    return;
  }
  var labels = JSON.parse(labelsNode.textContent);
  var stateNode = document.getElementById("cc-live-state");
  var lang = document.documentElement.lang || undefined;
  var FAILED = ["error", "timeout", "offline", "rejected"];
  var LIST_LENGTH = 10;
  var retryMs = 1000;

  function setState(state, text) {
    root.setAttribute("data-live-state", state);
    if (stateNode) {
      stateNode.setAttribute("data-state", state);
      stateNode.textContent = text;
    }
  }

  function formatTime(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? "-" : date.toLocaleString(lang);
  }

  function formatNumber(value, digits) {
    return Number(value).toLocaleString(lang, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  }

  function setTime(node, iso) {
    if (node && iso) {
      node.setAttribute("datetime", iso);
      node.textContent = formatTime(iso);
    }
  }

  function adminUrl(kind, pk) {
    var template = root.getAttribute("data-" + kind + "-url") || "";
    var at = template.lastIndexOf("/0/");
    if (at < 0) {
      return template;
    }
    return template.slice(0, at) + "/" + encodeURIComponent(pk) + "/" + template.slice(at + 3);
  }

  function field(node, name) {
    return node.querySelector('[data-field="' + name + '"]');
  }

  function stations(id) {
    return root.querySelectorAll('.cc-station[data-station="' + id + '"]');
  }

  function stationName(id) {
    var link = root.querySelector('.cc-station[data-station="' + id + '"] .cc-station-name');
    return link ? link.textContent : "#" + id;
  }

  function fromTemplate(id) {
    var template = document.getElementById(id);
    return template ? template.content.firstElementChild.cloneNode(true) : null;
  }

  function toggleEmpty(body) {
    var empty = body.querySelector(".cc-empty");
    if (empty) {
      empty.hidden = body.children.length > 1;
    }
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) {
      node.textContent = text;
    }
  }

  function updateCounts() {
    var rows = document.getElementById("cc-station-rows");
    if (rows) {
      setText("cc-station-count", rows.querySelectorAll(".cc-station").length);
      setText("cc-online-count", rows.querySelectorAll(".cc-station .cc-online").length);
      // Live figures from live data: an offline station's last statuses are not "now".
      var charging = 0;
      rows.querySelectorAll(".cc-station").forEach(function (row) {
        if (row.querySelector(".cc-online")) {
          charging += row.querySelectorAll(".cc-status-charging").length;
        }
      });
      setText("cc-charging-count", charging);
    }
    var txRows = document.getElementById("cc-transaction-rows");
    if (txRows) {
      var total = 0;
      txRows.querySelectorAll(".cc-transaction [data-watts]").forEach(function (node) {
        var watts = parseFloat(node.getAttribute("data-watts"));
        total += isNaN(watts) ? 0 : watts;
      });
      setText("cc-transaction-count", txRows.querySelectorAll(".cc-transaction").length);
      setText("cc-total-power", formatNumber(total / 1000, 2));
    }
  }

  function flash(node) {
    node.classList.remove("cc-flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("cc-flash");
  }

  function onStation(data) {
    var nodes = stations(data.station);
    var body = document.getElementById("cc-station-rows");
    if (!nodes.length && data.online && body) {
      var row = fromTemplate("cc-station-template");
      row.setAttribute("data-station", data.station);
      var link = row.querySelector(".cc-station-name");
      link.textContent = data.charger_id || "#" + data.station;
      link.href = adminUrl("station", data.station);
      body.appendChild(row);
      toggleEmpty(body);
      nodes = [row];
    }
    nodes.forEach(function (node) {
      var known = node.getAttribute("data-connection");
      if (!data.online && data.connection && known && data.connection !== known) {
        return; // the close of a connection that another one replaced
      }
      if (data.online) {
        node.setAttribute("data-connection", data.connection || "");
      }
      var state = field(node, "online");
      state.classList.toggle("cc-online", !!data.online);
      state.classList.toggle("cc-offline", !data.online);
      state.textContent = data.online ? labels.online : labels.offline;
      flash(state);
      if (!data.online) {
        clearPower(data.station);
      }
    });
    document.querySelectorAll('[data-offline-note="' + data.station + '"]').forEach(function (note) {
      note.hidden = !!data.online;
    });
    if (data.online && data.at) {
      onHeartbeat({ station: data.station, at: data.at }); // a connection is a sign of life
    }
    updateCounts();
  }

  // A station gone offline has no power now: its open transactions stay listed without it.
  function clearPower(station) {
    var body = document.getElementById("cc-transaction-rows");
    if (!body) {
      return;
    }
    body.querySelectorAll('.cc-transaction[data-station="' + station + '"]').forEach(function (row) {
      var power = field(row, "power");
      power.removeAttribute("data-watts");
      power.textContent = "-";
    });
  }

  function onHeartbeat(data) {
    stations(data.station).forEach(function (node) {
      setTime(field(node, "heartbeat"), data.at);
    });
  }

  function onConnector(data) {
    if (!data.connector) {
      return; // connector 0 stands for the station as a whole
    }
    stations(data.station).forEach(function (node) {
      var list = field(node, "connectors");
      var badge = list.querySelector('[data-connector="' + data.connector + '"]');
      if (!badge) {
        badge = document.createElement("span");
        badge.setAttribute("data-connector", data.connector);
        var id = document.createElement("span");
        id.className = "cc-connector-id";
        id.textContent = data.connector;
        var word = document.createElement("span");
        word.className = "cc-connector-status";
        badge.appendChild(id);
        badge.appendChild(document.createTextNode(" "));
        badge.appendChild(word);
        var placeholder = list.querySelector(".cc-no-connectors");
        if (placeholder) {
          placeholder.remove();
        }
        list.appendChild(badge);
      }
      var status = data.status || "";
      badge.className = "cc-connector cc-status-" + (status.toLowerCase() || "unknown");
      badge.title = data.error_code || "";
      badge.setAttribute("data-status", status);
      badge.querySelector(".cc-connector-status").textContent =
        labels.statuses[status] || status || labels.unknown;
      flash(badge);
    });
    updateCounts();
  }

  function transactionRow(data) {
    var body = document.getElementById("cc-transaction-rows");
    if (!body) {
      return null;
    }
    if (data.transaction) {
      var byPk = body.querySelector('.cc-transaction[data-transaction="' + data.transaction + '"]');
      if (byPk) {
        return byPk;
      }
    }
    if (data.transaction_id !== null && data.transaction_id !== undefined) {
      var rows = body.querySelectorAll('.cc-transaction[data-station="' + data.station + '"]');
      for (var i = 0; i < rows.length; i++) {
        if (rows[i].getAttribute("data-transaction-id") === String(data.transaction_id)) {
          return rows[i];
        }
      }
    }
    return null;
  }

  // The station page's own table of sessions: energy so far, and the end of a session.
  function stationSession(data) {
    var body = document.getElementById("cc-station-tx-rows");
    if (!body) {
      return;
    }
    var row = null;
    if (data.transaction) {
      row = body.querySelector('.cc-station-tx[data-transaction="' + data.transaction + '"]');
    }
    if (!row && data.transaction_id !== null && data.transaction_id !== undefined) {
      body.querySelectorAll('.cc-station-tx[data-station="' + data.station + '"]').forEach(
        function (candidate) {
          if (candidate.getAttribute("data-transaction-id") === String(data.transaction_id)) {
            row = candidate;
          }
        }
      );
    }
    if (!row) {
      return;
    }
    var start = parseFloat(row.getAttribute("data-meter-start"));
    var reading = data.register_wh;
    if ((reading === null || reading === undefined) && data.meter_stop_wh !== undefined) {
      reading = data.meter_stop_wh;
    }
    if (reading !== null && reading !== undefined && !isNaN(start)) {
      var energy = field(row, "energy");
      energy.textContent = formatNumber((reading - start) / 1000, 3);
      flash(energy);
    }
    if (data.active === false && data.stopped_at) {
      field(row, "stopped").textContent = formatTime(data.stopped_at);
      if (data.reason) {
        field(row, "reason").textContent = data.reason;
      }
    }
  }

  function showMeter(row, data) {
    if (data.power_w !== null && data.power_w !== undefined && field(row, "power")) {
      var power = field(row, "power");
      power.setAttribute("data-watts", data.power_w);
      power.textContent = formatNumber(data.power_w / 1000, 2);
      flash(power);
    }
    var start = parseFloat(row.getAttribute("data-meter-start"));
    if (data.register_wh !== null && data.register_wh !== undefined && !isNaN(start)) {
      var energy = field(row, "energy");
      energy.textContent = formatNumber((data.register_wh - start) / 1000, 3);
      flash(energy);
    }
  }

  function onTransaction(data) {
    stationSession(data);
    var body = document.getElementById("cc-transaction-rows");
    var row = transactionRow(data);
    if (!data.active) {
      if (row) {
        row.remove();
      }
    } else if (body) {
      if (!row) {
        row = fromTemplate("cc-transaction-template");
        row.setAttribute("data-transaction", data.transaction);
        row.setAttribute("data-station", data.station);
        row.setAttribute("data-transaction-id", data.transaction_id);
        var link = field(row, "link");
        link.textContent = data.transaction_id;
        link.href = adminUrl("transaction", data.transaction);
        var stop = field(row, "stop");
        if (stop) {
          stop.href = adminUrl("stop", data.transaction);
        }
        field(row, "station").textContent = stationName(data.station);
        setTime(field(row, "started"), data.started_at);
        body.insertBefore(row, body.firstChild);
      }
      if (data.connector) {
        field(row, "connector").textContent = data.connector;
      }
      if (data.id_tag) {
        field(row, "id_tag").textContent = data.id_tag;
      }
      if (data.meter_start_wh !== null && data.meter_start_wh !== undefined) {
        row.setAttribute("data-meter-start", data.meter_start_wh);
      }
      showMeter(row, data);
    }
    if (body) {
      toggleEmpty(body);
    }
    updateCounts();
  }

  function onMeter(data) {
    stationSession(data);
    var row = transactionRow(data);
    if (row) {
      showMeter(row, data);
      updateCounts();
    }
  }

  function prepend(listId, parts, className) {
    var list = document.getElementById(listId);
    if (!list) {
      return;
    }
    var item = document.createElement("li");
    if (className) {
      item.className = className;
    }
    parts.forEach(function (part) {
      var node = document.createElement(part.tag || "span");
      node.textContent = part.text;
      if (part.className) {
        node.className = part.className;
      }
      if (part.href) {
        node.href = part.href;
      }
      if (part.datetime) {
        node.setAttribute("datetime", part.datetime);
      }
      item.appendChild(node);
      item.appendChild(document.createTextNode(" "));
    });
    list.insertBefore(item, list.firstChild);
    var empty = list.querySelector(".cc-empty");
    if (empty) {
      empty.remove();
    }
    while (list.children.length > LIST_LENGTH) {
      list.removeChild(list.lastChild);
    }
    flash(item);
  }

  function onCommand(data) {
    if (FAILED.indexOf(data.status) < 0) {
      return;
    }
    prepend(
      "cc-failed-command-list",
      [
        { tag: "time", text: formatTime(data.at), datetime: data.at },
        { tag: "a", text: data.action, href: adminUrl("command", data.command) },
        { text: stationName(data.station) },
        { text: data.status, className: "cc-badge cc-badge-" + data.status },
        {
          text: [data.error_code, data.error_description].filter(Boolean).join(" "),
          className: "cc-muted",
        },
      ],
      "command-" + data.status
    );
  }

  function onSecurity(data) {
    prepend("cc-security-events", [
      { tag: "time", text: formatTime(data.at), datetime: data.at },
      { tag: "strong", text: data.event_type },
      { text: data.charger_id || "-" },
      { text: data.tech_info || "", className: "cc-muted" },
    ]);
  }

  // A card read by this node's RFID scanner (a page with a "cc-card-scans" list shows it).
  function onCard(data) {
    prepend(
      "cc-card-scans",
      [
        { tag: "time", text: formatTime(data.at), datetime: data.at },
        { tag: "strong", text: data.uid },
        { text: data.result, className: "cc-badge cc-badge-" + data.result },
        { text: [data.action, data.station].filter(Boolean).join(" "), className: "cc-muted" },
        { text: data.detail || "", className: "cc-muted" },
      ],
      "card-" + data.result
    );
  }

  var handlers = {
    card: onCard,
    station: onStation,
    heartbeat: onHeartbeat,
    connector: onConnector,
    transaction: onTransaction,
    meter: onMeter,
    command: onCommand,
    security: onSecurity,
  };

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + root.getAttribute("data-live-path"));
    socket.onopen = function () {
      retryMs = 1000;
      setState("open", labels.live);
    };
    socket.onmessage = function (message) {
      var event = JSON.parse(message.data);
      var handler = handlers[event.kind];
      if (handler) {
        handler(event.data || {});
      }
    };
    socket.onclose = function () {
      setState("closed", labels.reconnecting);
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  root.querySelectorAll("time[datetime]").forEach(function (node) {
    node.textContent = formatTime(node.getAttribute("datetime"));
  });
  setState("connecting", labels.connecting);
  connect();
})();
