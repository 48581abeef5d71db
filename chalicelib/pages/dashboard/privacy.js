/*
 * The dashboard's privacy panel: the brand's retention settings (months delivery details and
 * closed wins' details are kept, the platform's inactivity period) and what the hourly
 * retention job removed for the brand so far. Brand-wide, refreshed with the rest of the page.
 *
 * Built in front of dashboard.js, it registers itself in qrcPanels as loyalty.js does
 * (data-stat keys `retention.*`, the JSON path in GET /v1/retention).
 */
var qrcPanels = typeof qrcPanels === "undefined" ? [] : qrcPanels;
qrcPanels.push({
  fetch: function (api) {
    return api("/v1/retention");
  },
  draw: function (settings, kit) {
    var section = document.getElementById("privacy");
    Array.prototype.forEach.call(section.querySelectorAll("[data-stat]"), function (e) {
      kit.setInt(e, kit.path(settings || {}, e.getAttribute("data-stat").replace(/^retention\./, "")));
    });
    section.hidden = false;
  },
  reset: function () {
    document.getElementById("privacy").hidden = true;
  },
});
