/*
 * The dashboard's winners panels: for each drawn draw of the draws panel, its wins (the
 * winners and the alternates promoted after them) with their status in words, the claim
 * deadline (marked overdue when it passed and the win is still offered), the delivery
 * details as the API shows them to the caller's role, the tracking note or the reason, and
 * the moves the win's lifecycle allows (docs/winners.md, "Claiming a win"), for managers
 * and owners only: the API refuses viewers anyway, the page just does not offer them.
 *
 * Built in front of draws.js, which puts qrcWinners.panel(draw) under its table for each drawn
 * draw (beside the table, not in it: the wins have columns of their own). A panel
 * asks for its wins when it is opened, after each move and on "Refresh now", not on the
 * 30 s timer. Delivery details show masked to everyone until an owner gives a reason ("Show in
 * clear…"): the API then shows them in clear and records the read with that reason.
 * Every API string goes in through textContent, never as HTML.
 */
var qrcWinners = (function () {
  "use strict";
  var doc = document;
  var base = qrcApi.base("dashboard");
  var el = qrcDom.el,
    clear = qrcDom.clear;
  var STATUS = {
    offered: "Offered: waiting for the winner",
    accepted: "Accepted by the winner",
    verified: "Verified",
    shipped: "Shipped",
    delivered: "Delivered",
    declined: "Declined by the winner",
    rejected: "Rejected",
    forfeited: "Forfeited: not claimed in time",
  };
  var ORDER = ["offered", "accepted", "verified", "shipped", "delivered", "declined", "rejected", "forfeited"];
  // The brand's moves from each status (WIN_TRANSITIONS, chalicelib/domain/lifecycle.py); the
  // winner's own (accept, decline) and the runner's (forfeit) are not the dashboard's.
  var MOVES = {
    accepted: ["verified", "rejected"],
    verified: ["shipped", "rejected"],
    shipped: ["delivered"],
  };
  // A move's button, and for those that need one, the words the API asks for with it.
  var MOVE = {
    verified: { label: "Verify" },
    shipped: { label: "Ship\u2026", field: "note", ask: "Tracking note (carrier and number)", go: "Mark shipped" },
    delivered: { label: "Mark delivered" },
    rejected: {
      label: "Reject\u2026",
      field: "reason",
      ask: "Why it is rejected (the winner sees this)",
      go: "Reject",
    },
  };
  var WRITERS = { owner: true, manager: true };
  // Per draw: whether its panel is open, the last answer of GET .../wins, and errors by pick.
  var state = {};

  function of(drawId) {
    if (!state[drawId]) state[drawId] = { open: false, answer: null, failed: null, errors: {} };
    return state[drawId];
  }
  function token() {
    return qrcSession.get("qrc.operatorToken");
  }
  function canMove() {
    var claims = qrcClaims(token() || "") || {};
    return WRITERS[claims.role] === true;
  }
  function when(s) {
    return qrcFormat.date(s, undefined, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
  }
  function failure(a) {
    if (!a) return "Could not reach the server; try again.";
    var e = a.body && a.body.error;
    if (!e) return "The server answered HTTP " + a.status + ".";
    return e.message + (e.field ? " (" + e.field + ")" : "");
  }
  function path(drawId) {
    var why = of(drawId).why;
    return base + "/v1/draws/" + encodeURIComponent(drawId) + "/wins" + (why ? "?why=" + encodeURIComponent(why) : "");
  }
  function isOwner() {
    return (qrcClaims(token() || "") || {}).role === "owner";
  }
  // An owner's reason to see the delivery details in clear: asked once per panel, sent with each read.
  function clearSight(draw) {
    var b = el("button", "Show in clear\u2026", "win-clear");
    b.type = "button";
    b.addEventListener("click", function () {
      var why = window.prompt("Why do you need the winners' details in clear? (kept in the audit trail)");
      if (!why || !why.trim()) return;
      of(draw.draw_id).why = why.trim();
      fetchWins(draw);
    });
    return b;
  }

  // --- reading ---------------------------------------------------------------------------
  function fetchWins(draw) {
    var s = of(draw.draw_id);
    return qrcApi.request(path(draw.draw_id), { token: token(), timeout: 2e4 }).then(function (a) {
      if (a && a.ok) {
        s.answer = a.body;
        s.failed = null;
      } else s.failed = failure(a);
      paint(draw);
    });
  }
  // Every open panel again (the "Refresh now" button, a new campaign picked).
  function refresh(draws) {
    draws.forEach(function (d) {
      if (d.status === "drawn" && of(d.draw_id).open) fetchWins(d);
    });
  }
  // Whether a move's form is open: the timer then leaves the table alone so the typing survives.
  function editing() {
    return !!doc.querySelector("#draws-card form.win-form");
  }

  // --- drawing ---------------------------------------------------------------------------
  // A drawn draw's panel, closed until asked for; `moved` is called after each move (the draws reload).
  function panel(draw, moved) {
    var s = of(draw.draw_id);
    s.moved = moved;
    var details = el("details", null, "wins");
    details.setAttribute("data-wins-for", draw.draw_id);
    details.open = s.open;
    var title = draw.name + (draw.drawn_at ? ", drawn " + when(draw.drawn_at) : "");
    var summary = el("summary", "Winners and claims: " + title);
    summary.appendChild(left(draw));
    details.appendChild(summary);
    details.appendChild(el("div", null, "wins-body"));
    details.addEventListener("toggle", function () {
      s.open = details.open;
      if (details.open) fetchWins(draw);
    });
    show(details.lastChild, draw);
    return details;
  }
  function paint(draw) {
    var box = doc.querySelector('#draws-wins [data-wins-for="' + draw.draw_id + '"] .wins-body');
    if (box) show(box, draw);
  }
  function show(box, draw) {
    var s = of(draw.draw_id);
    clear(box);
    if (s.failed) {
      var p = el("p", "Could not read the wins: " + s.failed, "win-error");
      p.setAttribute("role", "alert");
      box.appendChild(p);
    }
    if (!s.answer) {
      if (!s.failed) box.appendChild(el("p", "Loading the wins\u2026", "muted"));
      return;
    }
    box.appendChild(counts(s.answer.items));
    if (isOwner() && !s.why) box.appendChild(clearSight(draw));
    box.appendChild(table(draw, s.answer.items, canMove()));
  }
  // From the draw itself: how many alternates stepped in, are left, and prizes went unclaimed.
  function left(draw) {
    var ranked = (draw.alternates || []).length,
      promoted = draw.promoted || 0;
    var p = el(
      "span",
      " \u00b7 alternates promoted: " +
        promoted +
        " \u00b7 left: " +
        Math.max(0, ranked - promoted) +
        " of " +
        ranked +
        " \u00b7 prizes unclaimed: " +
        (draw.unclaimed || 0),
      "wins-left",
    );
    p.setAttribute("data-promoted", String(promoted));
    p.setAttribute("data-left", String(Math.max(0, ranked - promoted)));
    p.setAttribute("data-unclaimed", String(draw.unclaimed || 0));
    return p;
  }
  function counts(items) {
    var by = {};
    items.forEach(function (w) {
      by[w.status] = (by[w.status] || 0) + 1;
    });
    var ul = el("ul", null, "wins-counts");
    ORDER.forEach(function (status) {
      if (!by[status]) return;
      var li = el("li", by[status] + " " + status);
      li.setAttribute("data-count", status);
      li.setAttribute("data-value", String(by[status]));
      ul.appendChild(li);
    });
    if (!items.length) ul.appendChild(el("li", "No wins yet: they are made when the draw's run finishes."));
    return ul;
  }
  function table(draw, items, writer) {
    var scroll = el("div", null, "scroll");
    var t = el("table", null, "wins-table");
    t.appendChild(el("caption", "The draw's wins by pick: winners, then the alternates promoted"));
    var head = el("tr");
    ["Pick", "Participant", "Status", "Claim deadline", "Delivery details", "Note", "Actions"].forEach(function (c) {
      var th = el("th", c);
      th.setAttribute("scope", "col");
      head.appendChild(th);
    });
    var thead = el("thead");
    thead.appendChild(head);
    t.appendChild(thead);
    var body = el("tbody");
    items.forEach(function (w) {
      body.appendChild(winRow(draw, w, writer));
    });
    t.appendChild(body);
    scroll.appendChild(t);
    return scroll;
  }
  function winRow(draw, w, writer) {
    var tr = el("tr");
    tr.setAttribute("data-pick", String(w.pick));
    tr.setAttribute("data-status", w.status);
    var pick = el("th", String(w.pick));
    pick.setAttribute("scope", "row");
    if (w.alternate) {
      pick.appendChild(el("small", " alternate " + w.rank + (w.replaces ? " for pick " + w.replaces : "")));
    }
    tr.appendChild(pick);
    tr.appendChild(el("td", w.participant_id, "mono"));
    tr.appendChild(statusCell(w));
    tr.appendChild(deadlineCell(w));
    tr.appendChild(el("td", delivery(w)));
    tr.appendChild(el("td", noted(w)));
    tr.appendChild(actionsCell(draw, w, writer));
    return tr;
  }
  function noted(w) {
    var parts = [w.note ? "Tracking: " + w.note : "", w.reason ? "Reason: " + w.reason : ""];
    return parts.filter(Boolean).join(" \u00b7 ") || "\u2013";
  }
  function statusCell(w) {
    var td = el("td", STATUS[w.status] || w.status, "win-status status-" + w.status);
    if (w.passed_to) {
      var to = /^pick:(\d+)$/.exec(w.passed_to);
      td.appendChild(el("small", to ? "Prize passed to pick " + to[1] : "Prize unclaimed: no alternate left"));
    }
    return td;
  }
  function deadlineCell(w) {
    var overdue = w.status === "offered" && Date.parse(w.deadline) < Date.now();
    var td = el("td", when(w.deadline), overdue ? "nw overdue" : "nw");
    td.setAttribute("data-deadline", w.deadline);
    td.title = w.deadline;
    if (overdue) td.appendChild(el("strong", " overdue"));
    return td;
  }
  // As the API gave them for this role: in clear (owners), masked (managers), or only that they were.
  function delivery(w) {
    var d = w.delivery;
    if (!d) return "\u2013";
    if (d.given) {
      var id = w.id_number_given ? ", with an ID number" : "";
      return "Given" + id + " (managers see them masked, owners in clear)";
    }
    var parts = [d.name, d.phone, d.address];
    if (d.id_number) parts.push("ID " + d.id_number);
    else if (w.id_number_given) parts.push("ID number given");
    return parts.filter(Boolean).join(" \u00b7 ");
  }
  function actionsCell(draw, w, writer) {
    var td = el("td", null, "win-actions");
    var moves = MOVES[w.status] || [];
    if (w.status === "offered") td.appendChild(el("span", "Waiting for the winner", "muted"));
    else if (!moves.length) td.appendChild(el("span", "\u2013", "muted"));
    if (writer)
      moves.forEach(function (status) {
        var b = el("button", MOVE[status].label, "win-move");
        b.type = "button";
        b.setAttribute("data-move", status);
        b.addEventListener("click", function () {
          if (MOVE[status].field) ask(draw, w, status, td);
          else send(draw, w, { status: status }, td);
        });
        td.appendChild(b);
      });
    var error = of(draw.draw_id).errors[w.pick];
    if (error) {
      var p = el("p", error, "win-error");
      p.setAttribute("role", "alert");
      td.appendChild(p);
    }
    return td;
  }

  // --- moving ----------------------------------------------------------------------------
  function ask(draw, w, status, td) {
    var move = MOVE[status];
    var old = td.querySelector("form.win-form");
    if (old) td.removeChild(old);
    var form = el("form", null, "win-form");
    form.noValidate = true;
    var id = "win-" + move.field + "-" + draw.draw_id + "-" + w.pick;
    var label = el("label", move.ask);
    label.htmlFor = id;
    var input = el("input");
    input.id = id;
    input.type = "text";
    input.name = move.field;
    input.maxLength = 300;
    input.autocomplete = "off";
    var go = el("button", move.go, "win-send");
    go.type = "submit";
    var cancel = el("button", "Cancel", "win-cancel");
    cancel.type = "button";
    cancel.addEventListener("click", function () {
      td.removeChild(form);
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { status: status },
        given = input.value.trim();
      // Left out when empty: the API then says what it wants in words.
      if (given) body[move.field] = given;
      send(draw, w, body, td);
    });
    [label, input, go, cancel].forEach(function (x) {
      form.appendChild(x);
    });
    td.appendChild(form);
    input.focus();
  }
  function send(draw, w, body, td) {
    var s = of(draw.draw_id);
    Array.prototype.forEach.call(td.querySelectorAll("button"), function (b) {
      b.disabled = true;
    });
    var url = path(draw.draw_id) + "/" + encodeURIComponent(String(w.pick)) + "/status";
    return qrcApi.request(url, { token: token(), body: body, timeout: 2e4 }).then(function (a) {
      if (a && a.ok) {
        delete s.errors[w.pick];
        // A rejection passes the prize on: the draw's promoted and unclaimed counts change too.
        if (s.moved) s.moved();
        return fetchWins(draw);
      }
      s.errors[w.pick] = failure(a);
      Array.prototype.forEach.call(td.querySelectorAll("button"), function (b) {
        b.disabled = false;
      });
      var p = td.querySelector(".win-error") || td.appendChild(el("p", null, "win-error"));
      p.setAttribute("role", "alert");
      p.textContent = s.errors[w.pick];
    });
  }

  return { panel: panel, refresh: refresh, editing: editing };
})();
