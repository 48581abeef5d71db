/*
 * The dashboard's webhooks panel (owners): every endpoint of the brand with its status, why it
 * was disabled (a 410 from the receiver, or every attempt failing for five days) and since when
 * it fails, so a disabled endpoint is seen without reading logs. Registers in qrcPanels like
 * loyalty.js; a role other than owner gets 403 from GET /v1/webhooks and the panel stays hidden.
 */
var qrcPanels = typeof qrcPanels === "undefined" ? [] : qrcPanels;
qrcPanels.push(
  (function () {
    "use strict";
    var doc = document;
    function panel() {
      return doc.getElementById("webhooks");
    }
    function fetchAll(api) {
      return api("/v1/webhooks?limit=100").catch(function (e) {
        if (e && e.status === 403) return null; // not an owner: nothing to show
        throw e;
      });
    }
    function draw(value, kit) {
      if (!value) return reset();
      var items = value.items || [],
        disabled = items.filter(function (w) {
          return w.status !== "enabled";
        });
      kit.table(
        doc.getElementById("webhooks-body"),
        items.map(function (w) {
          return kit.row([
            kit.rowHead(w.url),
            kit.el("td", w.status),
            kit.el("td", w.disabled_reason || ""),
            kit.el("td", w.failing_since || ""),
            kit.intEl("td", "webhook." + w.webhook_id + ".failures", w.failures_in_a_row, "num"),
          ]);
        }),
        5,
        "No webhook endpoints: events are not sent anywhere.",
      );
      var alert = doc.getElementById("webhooks-alert");
      alert.textContent = disabled.length
        ? disabled.length + " webhook endpoint(s) disabled: their events are not being sent."
        : "";
      alert.hidden = !disabled.length;
      panel().hidden = false;
    }
    function reset() {
      panel().hidden = true;
    }
    return { fetch: fetchAll, draw: draw, reset: reset };
  })(),
);
