/*
 * The shopper page's lucky draws: once signed in, the shopper's entries in each draw of
 * the campaigns they take part in (GET /v1/me/draws), and whether they won one already run.
 *
 * Its own file, built after landing.js: it reads the same strings block (#t, keys draw_*)
 * and the same session (qrc.token), and shows itself when the claim step is shown or a
 * claim's answer arrives. Data goes in through textContent only. ES5 on purpose.
 */
(function () {
  "use strict";
  var doc = document;
  doc.addEventListener("DOMContentLoaded", function () {
    var main = doc.getElementById("app");
    var step = doc.getElementById("s-claim");
    if (!main || !step || main.getAttribute("data-state") !== "open") return;
    var strings = JSON.parse(doc.getElementById("t").textContent);
    var api = main.getAttribute("data-api") || location.pathname.replace(/\/[sS]\/[^\/]*\/?$/, "");
    var lang = doc.documentElement.lang;
    var box = doc.createElement("div");
    box.id = "draws";
    box.className = "draws";
    box.hidden = true;
    step.insertBefore(box, doc.getElementById("b-out"));

    function format(text, values) {
      return text.replace(/\{(\w+)\}/g, function (_, name) {
        return values[name];
      });
    }
    function el(tag, text, cls) {
      var e = doc.createElement(tag);
      if (text != null) e.textContent = String(text);
      if (cls) e.className = cls;
      return e;
    }
    function day(iso) {
      try {
        return new Date(iso).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
      } catch (e) {
        return iso;
      }
    }
    function token() {
      var saved = qrcSession.get("qrc.token");
      return saved && Date.parse(qrcSession.get("qrc.exp") || "") > Date.now() + 5e3 ? saved : null;
    }
    function render(list) {
      while (box.firstChild) box.removeChild(box.firstChild);
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
        if (d.upcoming) state = format(strings.draw_upcoming, { when: day(d.draw_at), until: day(d.entries_until) });
        else state = d.won ? strings.draw_won : strings.draw_not_won;
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
      fetch(api + "/v1/me/draws", {
        headers: { Authorization: "Bearer " + bearer, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
      })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(
          function (body) {
            loading = false;
            if (body && body.draws) render(body.draws);
          },
          function () {
            loading = false;
          },
        );
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
