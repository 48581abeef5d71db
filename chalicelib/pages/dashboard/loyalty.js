/*
 * The dashboard's loyalty panel: the brand's points earned, spent, refunded and expired,
 * redemptions (per reward in the catalog table), members per tier, and the reward
 * catalog with its stock. Brand-wide, refreshed with the rest of the page.
 *
 * Built in front of dashboard.js, it registers itself in qrcPanels: on every refresh
 * dashboard.js calls `fetch(api)` beside its own requests, then `draw(value, kit)` with
 * its rendering helpers, so the numbers look and are checked like every other one
 * (data-stat keys `loyalty.*`, `tier.<name>` and `reward.<id>.*`).
 */
var qrcPanels = typeof qrcPanels === "undefined" ? [] : qrcPanels;
qrcPanels.push(
  (function () {
    "use strict";
    var doc = document;
    function panel() {
      return doc.getElementById("loyalty");
    }
    function fetchAll(api) {
      // One page of 100 rewards: a catalog is a shelf, not a warehouse.
      return Promise.all([api("/v1/loyalty/stats"), api("/v1/rewards?limit=100")]);
    }
    function draw(value, kit) {
      var stats = value[0] || {},
        rewards = (value[1] && value[1].items) || [];
      Array.prototype.forEach.call(panel().querySelectorAll(".tiles [data-stat]"), function (e) {
        kit.setInt(e, kit.path(stats, e.getAttribute("data-stat").replace(/^loyalty\./, "")));
      });
      kit.table(
        doc.getElementById("tiers-body"),
        (stats.members_by_tier || []).map(function (t) {
          return kit.row([kit.rowHead(t.tier), kit.intEl("td", "tier." + t.tier, t.members, "num")]);
        }),
        2,
        "This brand has no tiers: every member earns at the same rate.",
      );
      var redeemed = {};
      ((stats.redemptions && stats.redemptions.by_reward) || []).forEach(function (r) {
        redeemed[r.reward_id] = r.redemptions;
      });
      kit.table(
        doc.getElementById("rewards-body"),
        rewards.map(function (r) {
          var k = "reward." + r.reward_id + ".";
          return kit.row([
            kit.rowHead(r.name),
            kit.el("td", r.kind),
            kit.el("td", r.status),
            kit.intEl("td", k + "cost", r.cost, "num"),
            kit.intEl("td", k + "stock", r.stock, "num"),
            kit.intEl("td", k + "issued", r.issued, "num"),
            kit.intEl("td", k + "available", r.available, "num"),
            kit.intEl("td", k + "redemptions", redeemed[r.reward_id] || 0, "num"),
          ]);
        }),
        8,
        "No rewards in the catalog yet.",
      );
      panel().hidden = false;
    }
    function reset() {
      panel().hidden = true;
    }
    return { fetch: fetchAll, draw: draw, reset: reset };
  })(),
);
