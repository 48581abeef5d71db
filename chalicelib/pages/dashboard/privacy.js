/*
 * The dashboard's privacy panel: the brand's retention settings (months delivery details and
 * closed wins' details are kept, the platform's inactivity period) and what the hourly
 * retention job removed for the brand so far. Brand-wide, refreshed with the rest of the page.
 *
 * Built in front of dashboard.js, it registers itself in qrcPanels like loyalty.js
 * (data-stat keys `retention.*`, the JSON path in GET /v1/retention).
 */
var qrcPanels = typeof qrcPanels === "undefined" ? [] : qrcPanels;
qrcPanels.push(
  (function () {
    "use strict";
    var doc = document;
    function panel() {
      return doc.getElementById("privacy");
    }
    function fetchAll(api) {
      return api("/v1/retention");
    }
    function draw(value, kit) {
      var settings = value || {};
      Array.prototype.forEach.call(panel().querySelectorAll("[data-stat]"), function (e) {
        kit.setInt(e, kit.path(settings, e.getAttribute("data-stat").replace(/^retention\./, "")));
      });
      panel().hidden = false;
    }
    function reset() {
      panel().hidden = true;
    }
    return { fetch: fetchAll, draw: draw, reset: reset };
  })(),
);
