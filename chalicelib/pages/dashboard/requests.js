/*
 * The dashboard's data requests panel (owners only): the brand's open data-subject requests,
 * earliest deadline first, the deadline in red once passed, and for each what its kind allows:
 * download the shopper's data (access), delete the account (deletion), close it. A form records
 * a new one. Correction is done through the API (docs/privacy.md, Requests handled by staff).
 *
 * Built in front of dashboard.js, it registers in qrcPanels like loyalty.js: fetched and drawn
 * with every refresh. For any role but owner it asks nothing and stays hidden. Every API string
 * goes in through textContent, never as HTML.
 */
var qrcPanels = typeof qrcPanels === "undefined" ? [] : qrcPanels;
qrcPanels.push(
  (function () {
    "use strict";
    var doc = document;
    var base = qrcApi.base("dashboard");
    var el = qrcDom.el;
    var KIND = { access: "Access", correction: "Correction", deletion: "Deletion" };
    var $ = qrcDom.byId;
    function token() {
      return qrcSession.get("qrc.operatorToken");
    }
    function isOwner() {
      return (qrcClaims(token() || "") || {}).role === "owner";
    }
    function say(text) {
      var m = $("requests-msg");
      m.textContent = text || "";
      m.hidden = !text;
    }
    function failure(a) {
      if (!a) return "Could not reach the server; try again.";
      var e = a.body && a.body.error;
      if (!e) return "The server answered HTTP " + a.status + ".";
      return e.message + (e.field ? " (" + e.field + ")" : "");
    }
    function post(path, body) {
      var url = base + "/v1/subject-requests" + path;
      return qrcApi.request(url, { token: token(), body: body || {}, timeout: 3e4 });
    }
    // The access download: the answer saved as a file for the owner to send on.
    function save(name, body) {
      var blob = new Blob([JSON.stringify(body, null, 2)], { type: "application/json" });
      var a = el("a");
      a.href = URL.createObjectURL(blob);
      a.download = name;
      doc.body.appendChild(a);
      a.click();
      setTimeout(function () {
        URL.revokeObjectURL(a.href);
        a.remove();
      }, 0);
    }
    function act(r, what, done) {
      var body = what === "close" ? { outcome: "done" } : {};
      post("/" + encodeURIComponent(r.request_id) + "/" + what, body).then(function (a) {
        if (!a || !a.ok) return say(failure(a));
        say("");
        if (what === "access") save(r.request_id + "-data.json", a.body);
        done();
      });
    }
    function button(label, onClick) {
      var b = el("button", label);
      b.type = "button";
      b.addEventListener("click", onClick);
      return b;
    }
    function actions(r, redraw) {
      var td = el("td", null, "actions");
      var sure = "Delete this shopper's account? Their points are forfeited; it cannot be undone.";
      if (r.kind === "access" && r.data_held) {
        td.appendChild(
          button("Download data", function () {
            act(r, "access", redraw);
          }),
        );
      }
      if (r.kind === "deletion" && r.data_held) {
        td.appendChild(
          button("Delete account", function () {
            if (window.confirm(sure)) act(r, "erase", redraw);
          }),
        );
      }
      td.appendChild(button("Close as done", function () {
        act(r, "close", redraw);
      }));
      return td;
    }
    function fetchAll(api) {
      if (!isOwner()) return Promise.resolve(null);
      return api("/v1/subject-requests?limit=100");
    }
    var refresh = function () {};
    function draw(value, kit) {
      var panel = $("requests");
      if (!value) {
        panel.hidden = true;
        return;
      }
      var open = (value.items || []).filter(function (r) {
        return r.status === "open";
      });
      kit.table(
        $("requests-body"),
        open.map(function (r) {
          var tr = kit.row([
            kit.rowHead(r.received_on),
            el("td", KIND[r.kind] || r.kind),
            el("td", r.phone || "\u2013"),
            el("td", r.deadline + (r.overdue ? " overdue" : ""), r.overdue ? "nw overdue" : "nw"),
            actions(r, function () {
              refresh();
            }),
          ]);
          tr.setAttribute("data-request", r.request_id);
          return tr;
        }),
        5,
        "No open data requests.",
      );
      panel.hidden = false;
      refresh = function () {
        fetchAll(function (p) {
          return qrcApi.request(base + p, { token: token(), timeout: 2e4 }).then(function (a) {
            return a && a.ok ? a.body : null;
          });
        }).then(function (v) {
          if (v) draw(v, kit);
        });
      };
    }
    function reset() {
      $("requests").hidden = true;
    }
    function record(event) {
      event.preventDefault();
      var f = $("f-request"),
        body = {
          kind: f.kind.value,
          phone: f.phone.value,
          received_on: f.received_on.value,
          channel: f.channel.value,
        };
      if (f.market.value) body.market = f.market.value;
      if (f.note.value) body.note = f.note.value;
      post("", body).then(function (a) {
        if (!a || !a.ok) return say(failure(a));
        say(a.body.outcome === "no_data_held" ? "Recorded and closed: no data is held on this number." : "");
        f.reset();
        refresh();
      });
    }
    doc.addEventListener("DOMContentLoaded", function () {
      var f = $("f-request");
      if (f) f.addEventListener("submit", record);
    });
    return { fetch: fetchAll, draw: draw, reset: reset };
  })(),
);
