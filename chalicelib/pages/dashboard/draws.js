/*
 * The dashboard's lucky draws: the chosen campaign's draws with their seed commitment,
 * status, snapshot hash, seed once revealed, and winners (phones masked).
 *
 * Its own file, built after dashboard.js: it reads the same session (the operator token)
 * and follows the campaign picker (#campaign), drawing its card at the end of #panel.
 * Elements and the API call come from shared.js. Every API string goes in through
 * textContent, never as HTML. Below the table, each drawn draw's winners panel (winners.js);
 * above it, the campaign's public results page.
 */
(function () {
  "use strict";
  var doc = document;
  var base = qrcApi.base("dashboard");
  var $ = qrcDom.byId,
    el = qrcDom.el,
    clear = qrcDom.clear;
  function short(hash) {
    return hash ? hash.slice(0, 16) + "\u2026" : "\u2013";
  }
  function card() {
    var existing = $("draws-card");
    if (existing) return existing;
    var panel = $("panel");
    if (!panel) return null;
    var section = el("section", null, "card");
    section.id = "draws-card";
    section.setAttribute("aria-labelledby", "draws-h");
    var h = el("h2", "Lucky draws");
    h.id = "draws-h";
    section.appendChild(h);
    var note = el(
      "p",
      "Each draw's seed is committed when it is scheduled and revealed with the winners; " +
        "check a draw with scripts/verify_draw.py (docs/draws.md).",
      "muted",
    );
    section.appendChild(note);
    // When the market's regulator paper is due (docs/winners.md, "The regulator's papers").
    var due = el("p", null, "muted");
    due.id = "draws-report";
    due.hidden = true;
    section.appendChild(due);
    var results = el("p");
    var link = el("a", "The campaign's public results page");
    link.id = "draws-results";
    link.rel = "noopener";
    link.target = "_blank";
    results.appendChild(link);
    section.appendChild(results);
    var scroll = el("div", null, "scroll");
    var table = el("table");
    table.appendChild(el("caption", "The campaign's lucky draws, newest first"));
    var head = el("thead");
    var tr = el("tr");
    var columns = ["Draw", "Prize", "Status", "Draw at", "Entries until", "Seed commitment", "Snapshot", "Winners"];
    columns.forEach(function (t) {
      var th = el("th", t);
      th.setAttribute("scope", "col");
      tr.appendChild(th);
    });
    head.appendChild(tr);
    table.appendChild(head);
    var body = el("tbody");
    body.id = "draws-body";
    table.appendChild(body);
    scroll.appendChild(table);
    section.appendChild(scroll);
    var wins = el("div");
    wins.id = "draws-wins";
    section.appendChild(wins);
    panel.appendChild(section);
    return section;
  }
  function winnersCell(d) {
    var td = el("td");
    var alternates = d.alternates_wanted || 0;
    if (d.status !== "drawn") {
      td.textContent = d.winners_wanted + " to draw" + (alternates ? " \u00b7 " + alternates + " alternates" : "");
      return td;
    }
    td.appendChild(picks("winners", d.winners));
    if (alternates) {
      // Fewer than asked when the snapshot had no one left to pick after the winners.
      td.appendChild(el("p", "Alternates (" + d.alternates.length + " of " + alternates + ")", "muted"));
      td.appendChild(picks("alternates", d.alternates));
    }
    td.appendChild(el("p", "seed " + short(d.seed), "muted mono"));
    return td;
  }
  function picks(kind, list) {
    var ol = el("ol", null, kind);
    list.forEach(function (w) {
      var li = el("li", w.phone + " \u00b7 " + w.participant_id + " (" + w.entries + ")");
      li.setAttribute("data-participant", w.participant_id);
      ol.appendChild(li);
    });
    return ol;
  }
  var PAPERS = {
    vn_results: "Results report to the registering authority (Vietnam)",
    ph_winners: "Winners list to the DTI / FDA (Philippines)",
  };
  function deadline(report) {
    var line = $("draws-report");
    if (!line) return;
    line.hidden = !report;
    if (!report) return;
    line.setAttribute("data-kind", report.kind);
    line.setAttribute("data-due", report.due_at || "");
    line.textContent =
      PAPERS[report.kind] +
      ": due " +
      (report.due_at || "once a draw is scheduled") +
      (report.award_deadline ? " (prize-award deadline " + report.award_deadline + ")" : "") +
      "; CSV and PDF at /v1/campaigns/\u2026/reports/results.csv and .pdf.";
  }
  function render(items, report, campaignId) {
    var section = card();
    if (!section) return;
    deadline(report);
    // Public, no sign-in: every draw of the campaign with its winners (docs/winners.md, "Results page").
    $("draws-results").href = base + "/results/" + encodeURIComponent(campaignId);
    var body = clear($("draws-body")),
      wins = clear($("draws-wins"));
    if (!items.length) {
      var tr = el("tr");
      var td = el("td", "No draw scheduled for this campaign.", "muted");
      td.colSpan = 8;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    items.forEach(function (d) {
      var tr = el("tr");
      tr.setAttribute("data-draw", d.draw_id);
      tr.setAttribute("data-status", d.status);
      tr.appendChild(el("td", d.name));
      tr.appendChild(el("td", d.prize));
      var status = el("td", d.blocked ? "blocked" : d.status, "status-" + (d.blocked ? "blocked" : d.status));
      if (d.blocked) {
        status.title = d.blocked.message;
        status.appendChild(el("p", d.blocked.message, "muted"));
      }
      tr.appendChild(status);
      tr.appendChild(el("td", d.draw_at));
      tr.appendChild(el("td", d.entries_until));
      var commit = el("td", short(d.seed_commitment), "mono");
      commit.title = d.seed_commitment;
      commit.setAttribute("data-commitment", d.seed_commitment);
      tr.appendChild(commit);
      var frozen = d.snapshot_sha256 ? short(d.snapshot_sha256) + " \u00b7 " + d.entries_total + " entries" : "\u2013";
      var snap = el("td", frozen, "mono");
      if (d.snapshot_sha256) snap.title = d.snapshot_sha256;
      tr.appendChild(snap);
      tr.appendChild(winnersCell(d));
      body.appendChild(tr);
      if (d.status === "drawn") wins.appendChild(qrcWinners.panel(d, load));
    });
  }
  var shown = null;
  // `fresh`: also read the wins of the open winners panels again (a click on "Refresh now").
  function load(fresh) {
    var token = qrcSession.get("qrc.operatorToken");
    var picker = $("campaign");
    var id = picker && picker.value;
    if (!token || !id) return;
    shown = id;
    var url = base + "/v1/campaigns/" + encodeURIComponent(id) + "/draws?limit=20";
    qrcApi.request(url, { token: token }).then(function (a) {
      if (!(a && a.ok && a.body && a.body.items && shown === id)) return;
      render(a.body.items, a.body.report, id);
      if (fresh === true) qrcWinners.refresh(a.body.items);
    });
  }
  doc.addEventListener("DOMContentLoaded", function () {
    var picker = $("campaign");
    function again() {
      load(true);
    }
    if (picker) picker.addEventListener("change", again);
    var refresh = $("b-refresh");
    if (refresh) refresh.addEventListener("click", again);
    window.addEventListener("hashchange", again);
    // The panel is shown once a campaign's statistics have loaded: the draws follow it.
    var panel = $("panel");
    if (panel && window.MutationObserver) {
      new MutationObserver(function () {
        if (!panel.hidden && $("campaign").value !== shown) load(true);
      }).observe(panel, { attributes: true, attributeFilter: ["hidden"] });
    }
    setInterval(function () {
      // Not while a win's note is being typed: redrawing the table would throw it away.
      if (panel && !panel.hidden && !doc.hidden && !qrcWinners.editing()) load();
    }, 30000);
    load();
  });
})();
