/*
 * The shopper page's lucky draws: once signed in, the shopper's entries in each draw of
 * the campaigns they take part in (GET /v1/me/draws), and whether they won one already run.
 *
 * Its own file, built after landing.js: it reads the same strings block (#t, keys draw_*)
 * and the same session (qrc.token), and shows itself when the claim step is shown or a
 * claim's answer arrives. Elements, placeholders, dates and the API call come from
 * shared.js. Data goes in through textContent only. ES5 on purpose.
 */
(function () {
  "use strict";
  var doc = document;
  doc.addEventListener("DOMContentLoaded", function () {
    var main = doc.getElementById("app");
    var step = doc.getElementById("s-claim");
    if (!main || !step || main.getAttribute("data-state") !== "open") return;
    var strings = JSON.parse(doc.getElementById("t").textContent);
    var api = qrcApi.base("shopper", main.getAttribute("data-api"));
    var lang = doc.documentElement.lang;
    var el = qrcDom.el,
      format = qrcFormat.fill;
    var box = el("div", null, "draws");
    box.id = "draws";
    box.hidden = true;
    step.insertBefore(box, doc.getElementById("b-out"));

    function day(iso) {
      return qrcFormat.date(iso, lang, { dateStyle: "medium", timeStyle: "short" });
    }
    function token() {
      var saved = qrcSession.get("qrc.token");
      return saved && Date.parse(qrcSession.get("qrc.exp") || "") > Date.now() + 5e3 ? saved : null;
    }
    function render(list) {
      qrcDom.clear(box);
      box.appendChild(el("h2", strings.draw_title));
      if (!list.length) {
        box.appendChild(el("p", strings.draw_none, "muted"));
      }
      list.forEach(function (d) {
        var item = el("div", null, "draw card" + (d.won ? " won" : ""));
        item.setAttribute("data-draw", d.draw_id);
        item.appendChild(el("h3", d.name));
        item.appendChild(el("p", format(strings.draw_prize, { prize: d.prize })));
        var counted = d.entries === 1 ? strings.draw_entries_one : strings.draw_entries_other;
        var entries = el("p", format(counted, { n: d.entries }), "big");
        entries.setAttribute("data-entries", String(d.entries));
        item.appendChild(entries);
        var state;
        if (d.set_aside) state = strings.draw_set_aside;
        else if (d.upcoming) {
          state = format(strings.draw_upcoming, { when: day(d.draw_at), until: day(d.entries_until) });
        } else state = d.won ? strings.draw_won : strings.draw_not_won;
        var status = el("p", state, d.won ? "msg good" : "muted");
        status.setAttribute("data-won", d.won ? "yes" : "no");
        item.appendChild(status);
        box.appendChild(item);
      });
      box.hidden = false;
    }
    var loading = false;
    function load() {
      var bearer = token();
      if (!bearer || loading || step.hidden) return;
      loading = true;
      qrcApi.request(api + "/v1/me/draws", { token: bearer }).then(function (answer) {
        loading = false;
        if (answer && answer.ok && answer.body && answer.body.draws) render(answer.body.draws);
      });
    }
    // The claim step is shown after sign-in, and its result after a claim: both may change the entries.
    if (window.MutationObserver) {
      var watch = new MutationObserver(load);
      watch.observe(step, { attributes: true, attributeFilter: ["hidden"] });
      var result = doc.getElementById("result");
      if (result) watch.observe(result, { attributes: true, attributeFilter: ["hidden"] });
    }
    load();
  });
})();
