/*
 * The dashboard's pack integrity panel: the chosen campaign's scans by place, ranked, and
 * its integrity signals (copied codes, diverted batches, farms, guessing networks), each with
 * a quarantine or release button for managers and owners (the operator confirms first).
 *
 * Built in front of dashboard.js, it registers itself in qrcPanels like loyalty.js: on every
 * refresh dashboard.js calls `fetch(api)`, then `draw(value, kit)`. Every API string goes in
 * through textContent, never as HTML (data-stat keys `place.<code>.*`).
 */
var qrcPanels = typeof qrcPanels === "undefined" ? [] : qrcPanels;
qrcPanels.push(
  (function () {
    "use strict";
    var doc = document;
    var base = qrcApi.base("dashboard");
    var NAMES = {
      copied_code: "Copied code",
      diverted_batch: "Diverted batch",
      farm: "Farm",
      guessing_network: "Guessing network",
    };
    function panel() {
      return doc.getElementById("integrity");
    }
    function campaign() {
      var picker = doc.getElementById("campaign");
      return picker ? picker.value : "";
    }
    function fetchAll(api) {
      var p = "/v1/campaigns/" + encodeURIComponent(campaign());
      return Promise.all([api(p + "/stats/places"), api(p + "/signals")]);
    }
    function writer() {
      var claims = qrcClaims(qrcSession.get("qrc.operatorToken") || "") || {};
      return claims.role === "owner" || claims.role === "manager";
    }
    function say(text) {
      var m = doc.getElementById("signals-msg");
      m.textContent = text || "";
      m.hidden = !text;
    }
    // The route a signal's quarantine goes to: its code, or its (first) batch.
    function target(s) {
      if (s.kind === "copied_code") return "/v1/codes/" + encodeURIComponent(s.subject);
      var batch = (s.batches || [])[0];
      return batch ? "/v1/batches/" + encodeURIComponent(batch.batch_id) : null;
    }
    function held(s) {
      var batch = (s.batches || [])[0];
      return s.kind !== "copied_code" && batch && batch.status === "quarantined";
    }
    function act(s, move, button) {
      var what = s.kind === "copied_code" ? "code " + s.subject : "batch " + s.batches[0].batch_id;
      if (!window.confirm((move === "quarantine" ? "Quarantine " : "Release ") + what + "?")) return;
      button.disabled = true;
      qrcApi
        .request(base + target(s) + "/" + move, {
          token: qrcSession.get("qrc.operatorToken"),
          body: { signal: s.kind + ":" + s.subject },
          timeout: 20000,
        })
        .then(function (r) {
          button.disabled = false;
          if (r && r.ok) {
            say("");
            var refresh = doc.getElementById("b-refresh");
            if (refresh) refresh.click();
          } else {
            var e = r && r.body && r.body.error;
            say(e ? e.message : "Could not reach the server; try again.");
          }
        });
    }
    function actions(s, kit) {
      var td = kit.el("td", null, "nw");
      if (!writer() || !target(s)) return td;
      var move = held(s) ? "release" : "quarantine";
      var b = kit.el("button", move === "quarantine" ? "Quarantine\u2026" : "Release\u2026");
      b.type = "button";
      b.setAttribute("data-move", move);
      b.addEventListener("click", function () {
        act(s, move, b);
      });
      td.appendChild(b);
      return td;
    }
    function list(values) {
      return values.length ? values.join(", ") : "\u2013";
    }
    function draw(value, kit) {
      var places = value[0] || {},
        signals = (value[1] && value[1].signals) || [];
      var range = places.from && places.to ? places.from + " to " + places.to : "";
      doc.getElementById("places-range").textContent = range ? "From " + range + " (" + places.timezone + ")" : "";
      kit.table(
        doc.getElementById("places-body"),
        (places.places || []).map(function (p) {
          var k = "place." + p.place + ".";
          return kit.row([
            kit.rowHead(p.name),
            kit.el("td", p.place, "nw"),
            kit.intEl("td", k + "scans", p.scans, "num"),
            kit.intEl("td", k + "participants", p.participants, "num"),
          ]);
        }),
        4,
        "No placed scans yet.",
      );
      kit.table(
        doc.getElementById("signals-body"),
        signals.map(function (s) {
          var tr = kit.row([
            kit.rowHead(NAMES[s.kind] || s.kind),
            kit.el("td", s.subject, "mono"),
            kit.intEl("td", "signal." + s.kind + "." + s.subject, s.count, "num"),
            kit.el("td", list(s.places || [])),
            kit.el(
              "td",
              list(
                (s.batches || []).map(function (b) {
                  return b.batch_id + (b.status ? " (" + b.status + ")" : "");
                }),
              ),
            ),
            kit.el("td", String((s.shoppers || []).length), "num"),
            actions(s, kit),
          ]);
          tr.setAttribute("data-signal", s.kind);
          return tr;
        }),
        7,
        "No signals: nothing crossed the brand's thresholds.",
      );
      panel().hidden = false;
    }
    function reset() {
      panel().hidden = true;
      say("");
    }
    return { fetch: fetchAll, draw: draw, reset: reset };
  })(),
);
