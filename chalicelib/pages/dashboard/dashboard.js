/*
 * The campaign dashboard's script. Plain JavaScript, no framework.
 *
 * Every API string goes into the page through textContent or setAttribute, never as
 * HTML. Every number carries data-stat: counts are plain integers (the formatted copy is
 * in the title), rates are percentages with at most one decimal (the % sign is outside
 * the element, the raw fraction is in data-value). The operator token lives in this tab's
 * sessionStorage only. Minified by scripts/build_pages.py and served inline under a CSP hash.
 * Panels built in front of this file (loyalty.js) register in qrcPanels and are fetched
 * and drawn with every refresh, with the helpers in `kit`. Elements, numbers, dates and the
 * API call come from shared.js, built in front of them all.
 */
// The operator token's claims (sub, brand, role, exp), or null when it is no JWT. Shown, never
// trusted: the API checks the token on every call. draws.js reads the role from it too.
function qrcClaims(t) {
  try {
    var p = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    while (p.length % 4) p += "=";
    return JSON.parse(
      decodeURIComponent(
        Array.prototype.map
          .call(atob(p), function (c) {
            return "%" + ("0" + c.charCodeAt(0).toString(16)).slice(-2);
          })
          .join(""),
      ),
    );
  } catch (e) {
    return null;
  }
}
(function () {
  "use strict";
  var doc = document,
    TOKEN_KEY = "qrc.operatorToken",
    CAMPAIGN_KEY = "qrc.campaign",
    GRAN_KEY = "qrc.granularity";
  var MSG_401 = "Your token was refused or has expired. Paste a new operator token to continue.";
  var $ = qrcDom.byId;
  var get = qrcSession.get;
  var put = qrcSession.put;
  // The API lives under the same prefix as this page (an API Gateway stage such as /api).
  var base = qrcApi.base("dashboard");
  var every = parseInt(new URLSearchParams(location.search).get("refresh") || "", 10);
  every = isNaN(every) ? 30 : Math.max(1, Math.min(every, 3600));
  var token = get(TOKEN_KEY),
    campaigns = [],
    current = null,
    gen = 0,
    busy = false,
    timer = null,
    charts = {},
    lastOk = null;
  var granularity = get(GRAN_KEY) === "hour" ? "hour" : "day";
  var panels = typeof qrcPanels === "undefined" ? [] : qrcPanels;

  var el = qrcDom.el,
    clear = qrcDom.clear;
  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }
  function hms(t) {
    return pad(t.getHours()) + ":" + pad(t.getMinutes()) + ":" + pad(t.getSeconds());
  }
  function intText(v) {
    if (v == null || v === "" || isNaN(Number(v))) return "\u2013";
    return String(Math.round(Number(v)));
  }
  function pctText(r) {
    if (r == null || isNaN(Number(r))) return "\u2013";
    return String(Math.round(Number(r) * 1000) / 10);
  }
  function setInt(e, v) {
    e.textContent = intText(v);
    var n = Number(v);
    e.title = v == null || isNaN(n) ? "" : qrcFormat.number(n);
    e.setAttribute("data-value", v == null ? "" : String(v));
    return e;
  }
  function intEl(tag, key, v, cls) {
    var e = el(tag, null, cls);
    e.setAttribute("data-stat", key);
    return setInt(e, v);
  }
  function pctEl(tag, key, r, cls) {
    var e = el(tag, null, cls),
      s = el("span", pctText(r));
    s.setAttribute("data-stat", key);
    s.setAttribute("data-value", r == null ? "" : String(r));
    e.appendChild(s);
    if (r != null && !isNaN(Number(r))) e.appendChild(doc.createTextNode("%"));
    return e;
  }
  function path(o, p) {
    return p.split(".").reduce(function (a, k) {
      return a == null ? a : a[k];
    }, o);
  }
  function when(s, tz) {
    if (!s) return "\u2013";
    return qrcFormat.date(s, undefined, {
      timeZone: tz || undefined,
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
  }
  var MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  // Bucket starts carry the campaign's own offset: read the local date and hour off the string.
  function bucketLabel(s, g) {
    var m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d))?/.exec(String(s));
    if (!m) return String(s);
    var day = parseInt(m[3], 10) + " " + MON[parseInt(m[2], 10) - 1];
    return g === "hour" && m[4] != null ? day + " " + m[4] + ":" + m[5] : day;
  }
  function instant(t) {
    return t.toISOString().replace(/\.\d{3}Z$/, "+00:00");
  }

  function say(t) {
    var m = $("msg");
    m.textContent = t || "";
    m.hidden = !t;
  }
  function problem(e) {
    if (!e || e.status == null)
      return "Something went wrong in this page" + (e && e.message ? ": " + e.message : ".");
    var detail = e.body && e.body.error && e.body.error.message ? " (" + e.body.error.message + ")" : "";
    var kept = lastOk ? " Showing the numbers from " + hms(lastOk) + "." : "";
    if (e.status === 0) return "Could not reach the server; trying again every " + every + " s." + kept;
    if (e.status === 403) return "Your token does not allow reading this campaign" + detail + ".";
    if (e.status === 404)
      return "Not found: this campaign does not exist or belongs to another brand" + detail + ".";
    if (e.status === 400) return "The server refused the request" + detail + ".";
    if (e.status === 429 || e.status >= 500)
      return (
        "The server is busy or had a problem (HTTP " +
        e.status +
        "); trying again every " +
        every +
        " s." +
        kept
      );
    return "The server answered HTTP " + e.status + detail + ".";
  }
  // One API read with the operator token, given up after 20 s: resolves to the body, or
  // rejects with {status, body} (status 0 when the server could not be reached).
  function api(p) {
    return qrcApi.request(base + p, { token: token, timeout: 2e4 }).then(function (a) {
      if (!a) throw { status: 0, body: null };
      if (!a.ok) throw { status: a.status, body: a.body };
      return a.body;
    });
  }

  // --- sign-in ---------------------------------------------------------------------------
  function showSignIn(text) {
    stop();
    token = null;
    put(TOKEN_KEY, null);
    reset();
    $("app").hidden = true;
    $("who-box").hidden = true;
    var m = $("signin-msg");
    m.textContent = text || "";
    m.hidden = !text;
    $("signin").hidden = false;
    $("token").value = "";
    $("token").focus();
  }
  function reset() {
    gen++;
    busy = false;
    campaigns = [];
    current = null;
    lastOk = null;
    Object.keys(charts).forEach(function (k) {
      charts[k].destroy();
    });
    charts = {};
    $("panel").hidden = true;
    say("");
    clear($("campaign"));
    $("updated-at").textContent = "";
    $("updated-at").removeAttribute("datetime");
    $("updated").hidden = true;
    Array.prototype.forEach.call(doc.querySelectorAll("#totals [data-stat]"), function (e) {
      setInt(e, null);
    });
    panels.forEach(function (p) {
      p.reset();
    });
  }
  function signedIn() {
    var c = qrcClaims(token) || {},
      who = $("who");
    who.textContent =
      "Signed in as " +
      (c.sub || "operator") +
      (c.role ? " \u00b7 " + c.role : "") +
      (c.brand ? " \u00b7 " + c.brand : "");
    $("signin").hidden = true;
    $("who-box").hidden = false;
    $("app").hidden = false;
    loadCampaigns();
    stop();
    timer = setInterval(function () {
      if (busy || doc.hidden) return;
      if (current) refresh(false);
      else loadCampaigns();
    }, every * 1000);
  }
  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
  }
  $("f-signin").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var v = $("token")
        .value.trim()
        .replace(/^Bearer\s+/i, ""),
      m = $("signin-msg");
    function no(t) {
      m.textContent = t;
      m.hidden = false;
      $("token").focus();
    }
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(v))
      return no("That is not an operator token: paste the whole token, three parts separated by dots.");
    var c = qrcClaims(v);
    if (c && typeof c.exp === "number" && c.exp * 1000 < Date.now())
      return no("This token expired at " + qrcFormat.date(c.exp * 1000) + ": ask for a new one.");
    token = v;
    put(TOKEN_KEY, v);
    $("token").value = "";
    m.hidden = true;
    signedIn();
  });
  $("b-out").addEventListener("click", function () {
    put(CAMPAIGN_KEY, null);
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    showSignIn("");
  });

  // --- campaigns -------------------------------------------------------------------------
  function hashCampaign() {
    var m = /(?:^#|&)campaign=([^&]*)/.exec(location.hash);
    try {
      return m ? decodeURIComponent(m[1]) : null;
    } catch (e) {
      return null;
    }
  }
  function known(id) {
    return campaigns.some(function (c) {
      return c.campaign_id === id;
    });
  }
  function loadCampaigns() {
    var my = gen,
      all = [],
      pages = 0;
    say("");
    busy = true;
    function page(cursor) {
      return api("/v1/campaigns?limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(
        function (b) {
          all = all.concat((b && b.items) || []);
          pages++;
          return b && b.next_cursor && pages < 200 ? page(b.next_cursor) : all;
        },
      );
    }
    return page(null).then(
      function (list) {
        if (my !== gen) return;
        busy = false;
        campaigns = list;
        var s = clear($("campaign"));
        list.forEach(function (c) {
          var o = el("option", (c.name || c.campaign_id) + " \u2014 " + (c.status || ""));
          o.value = c.campaign_id;
          s.appendChild(o);
        });
        if (!list.length) {
          say("This brand has no campaigns yet.");
          return;
        }
        var want = hashCampaign(),
          pick = known(want) ? want : known(get(CAMPAIGN_KEY)) ? get(CAMPAIGN_KEY) : list[0].campaign_id;
        if (want && !known(want))
          say("The campaign in the link (" + want + ") is not one of this brand's campaigns.");
        choose(pick);
      },
      function (e) {
        if (my !== gen) return;
        busy = false;
        if (e.status === 401) return showSignIn(MSG_401);
        say(problem(e));
      },
    );
  }
  function choose(id) {
    if (!id) return;
    var changed = id !== current;
    current = id;
    put(CAMPAIGN_KEY, id);
    $("campaign").value = id;
    var h = "#campaign=" + encodeURIComponent(id);
    if (location.hash !== h) history.replaceState(null, "", location.pathname + location.search + h);
    var c =
      campaigns.filter(function (x) {
        return x.campaign_id === id;
      })[0] || {};
    $("campaign-info").textContent = [
      c.status,
      c.starts_at && c.ends_at
        ? when(c.starts_at, c.timezone) + " \u2013 " + when(c.ends_at, c.timezone)
        : "",
      c.timezone,
    ]
      .filter(Boolean)
      .join(" \u00b7 ");
    if (changed) {
      lastOk = null;
      $("panel").hidden = true;
      $("updated").hidden = true;
      say("");
    }
    refresh(true);
  }
  $("campaign").addEventListener("change", function () {
    choose(this.value);
  });
  window.addEventListener("hashchange", function () {
    var id = hashCampaign();
    if (id && id !== current && known(id)) choose(id);
  });
  $("b-refresh").addEventListener("click", function () {
    if (current) refresh(true);
    else if (token) loadCampaigns();
  });
  Array.prototype.forEach.call(doc.querySelectorAll("input[name=granularity]"), function (r) {
    r.checked = r.value === granularity;
    r.addEventListener("change", function () {
      if (!this.checked) return;
      granularity = this.value;
      put(GRAN_KEY, granularity);
      refresh(true);
    });
  });

  // --- refresh ---------------------------------------------------------------------------
  function seriesQuery() {
    if (granularity !== "hour") return "?granularity=day";
    var now = new Date(),
      from = new Date(now.getTime());
    from.setUTCMinutes(0, 0, 0);
    from = new Date(from.getTime() - 47 * 3600e3);
    return (
      "?granularity=hour&from=" +
      encodeURIComponent(instant(from)) +
      "&to=" +
      encodeURIComponent(instant(now))
    );
  }
  function settle(p) {
    return p.then(
      function (v) {
        return { ok: true, value: v };
      },
      function (e) {
        return { ok: false, error: e };
      },
    );
  }
  function refresh(force) {
    if (!token || !current || (busy && !force)) return;
    var my = ++gen,
      p = "/v1/campaigns/" + encodeURIComponent(current) + "/stats",
      tz = (
        campaigns.filter(function (c) {
          return c.campaign_id === current;
        })[0] || {}
      ).timezone;
    busy = true;
    $("b-refresh").disabled = true;
    $("panel").setAttribute("aria-busy", "true");
    Promise.all([
      settle(api(p)),
      settle(api(p + "/timeseries" + seriesQuery())),
      settle(api(p + "/batches")),
      settle(api(p + "/participants")),
    ].concat(
      panels.map(function (x) {
        return settle(x.fetch(api));
      }),
    )).then(function (rs) {
      if (my !== gen) return;
      busy = false;
      $("b-refresh").disabled = false;
      $("panel").removeAttribute("aria-busy");
      var errors = rs
        .filter(function (r) {
          return !r.ok;
        })
        .map(function (r) {
          return r.error;
        });
      if (
        errors.some(function (e) {
          return e && e.status === 401;
        })
      )
        return showSignIn(MSG_401);
      var shown = 0,
        draw = [renderTotals, renderSeries, renderBatches, renderParticipants].concat(
          panels.map(function (x) {
            return function (value) {
              x.draw(value, kit);
            };
          }),
        );
      rs.forEach(function (r, i) {
        if (!r.ok) return;
        try {
          draw[i](r.value, tz);
          shown++;
        } catch (e) {
          errors.push(e);
        }
      });
      if (shown) $("panel").hidden = false;
      if (!errors.length) {
        lastOk = new Date();
        var u = $("updated-at");
        u.textContent = hms(lastOk);
        u.setAttribute("datetime", lastOk.toISOString());
        $("updated").hidden = false;
        say("");
      } else say(problem(errors[0]));
    });
  }
  doc.addEventListener("visibilitychange", function () {
    if (!doc.hidden && !busy && current && lastOk && Date.now() - lastOk > every * 1000) refresh(false);
  });

  // --- rendering -------------------------------------------------------------------------
  function table(body, rows, cols, emptyText) {
    clear(body);
    if (!rows.length) {
      var tr = el("tr"),
        td = el("td", emptyText, "empty");
      td.colSpan = cols;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    rows.forEach(function (r) {
      body.appendChild(r);
    });
  }
  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c) {
      tr.appendChild(c);
    });
    return tr;
  }
  function rowHead(text, cls) {
    var th = el("th", text, cls);
    th.scope = "row";
    return th;
  }
  function chart(id, config) {
    if (!window.Chart) return;
    var c = charts[id];
    if (c) {
      c.data.labels = config.data.labels;
      c.data.datasets = config.data.datasets;
      c.update("none");
      return;
    }
    charts[id] = new Chart($(id), config);
  }
  var FONT = { family: 'system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif', size: 13 };
  function options(stacked) {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { color: "#1b1b1b", font: FONT } },
        tooltip: { titleFont: FONT, bodyFont: FONT },
      },
      scales: {
        x: {
          stacked: stacked,
          ticks: { color: "#4f4f4f", font: FONT, maxRotation: 0, autoSkip: true },
          grid: { display: false },
        },
        y: {
          stacked: stacked,
          beginAtZero: true,
          ticks: { color: "#4f4f4f", font: FONT, precision: 0 },
          grid: { color: "#e7e4dc" },
        },
      },
    };
  }

  // What a panel draws with: the same elements, numbers and tables as the rest of the page.
  var kit = { el: el, path: path, setInt: setInt, intEl: intEl, row: row, rowHead: rowHead, table: table };

  function renderTotals(s, tz) {
    Array.prototype.forEach.call(doc.querySelectorAll("#totals [data-stat]"), function (e) {
      setInt(e, path(s, e.getAttribute("data-stat")));
    });
    var rows = (s.prizes || []).map(function (z) {
      var k = "prize." + z.prize_id + ".";
      return row([
        rowHead(z.name),
        intEl("td", k + "quantity", z.quantity, "num"),
        intEl("td", k + "awarded", z.awarded, "num"),
        intEl("td", k + "left", z.left, "num"),
      ]);
    });
    table($("prizes-body"), rows, 4, "This campaign has no instant-win prizes.");
    $("as-of").textContent = s.as_of ? "Counted up to " + when(s.as_of, s.timezone || tz) : "";
  }
  var REFUSED = ["duplicate", "invalid", "refused_cap", "refused_rate", "refused_inactive"];
  // A bucket's count of one kind, as a number for the chart (missing counts are 0).
  function count(key) {
    return function (bucket) {
      return Number(bucket[key]) || 0;
    };
  }
  function refused(b) {
    return REFUSED.reduce(function (a, k) {
      return a + (Number(b[k]) || 0);
    }, 0);
  }
  function renderSeries(t) {
    var bs = (t && t.buckets) || [],
      g = t.granularity || granularity,
      labels = bs.map(function (b) {
        return bucketLabel(b.start, g);
      });
    $("series-range").textContent =
      (g === "hour" ? "By hour, last 48 hours" : "By day") +
      (t.from && t.to ? ", " + bucketLabel(t.from, g) + " \u2013 " + bucketLabel(t.to, g) : "") +
      (t.timezone ? " (" + t.timezone + ")" : "");
    chart("c-series", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          // Granted and refused scans stack into one bar per bucket.
          { type: "bar", label: "Granted", data: bs.map(count("granted")), stack: "scans", order: 2,
            backgroundColor: "#2e7d4f" },
          { type: "bar", label: "Refused", data: bs.map(refused), stack: "scans", order: 2,
            backgroundColor: "#c0392b" },
          {
            type: "line",
            label: "New participants",
            data: bs.map(count("new_participants")),
            borderColor: "#1558b0",
            backgroundColor: "#1558b0",
            stack: "new",
            order: 1,
            pointRadius: 2,
            borderWidth: 2,
            tension: 0.2,
          },
        ],
      },
      options: options(true),
    });
    var rows = bs.map(function (b, i) {
      var k = "series." + b.start + ".";
      return row([
        rowHead(labels[i], "nw"),
        intEl("td", k + "granted", b.granted, "num"),
        intEl("td", k + "refused", refused(b), "num"),
        intEl("td", k + "new_participants", b.new_participants, "num"),
        intEl("td", k + "returning_participants", b.returning_participants, "num"),
        intEl("td", k + "points", b.points, "num"),
      ]);
    });
    table($("series-body"), rows, 6, "No time buckets in this range.");
  }
  function renderBatches(b) {
    table(
      $("batches-body"),
      ((b && b.batches) || []).map(function (x) {
        var k = "batch." + x.batch_id + ".",
          th = intEl("th", k + "batch_number", x.batch_number, "num");
        th.scope = "row";
        return row([
          th,
          el("td", x.label || "\u2013"),
          el("td", x.sku || "\u2013", "nw"),
          el("td", x.status || "", "nw"),
          intEl("td", k + "quantity", x.quantity, "num"),
          intEl("td", k + "claims", x.claims, "num"),
          pctEl("td", k + "redemption_rate", x.redemption_rate, "num"),
        ]);
      }),
      7,
      "No batches minted yet.",
    );
    table(
      $("skus-body"),
      ((b && b.skus) || []).map(function (x) {
        var k = "sku." + x.sku + ".";
        return row([
          rowHead(x.sku, "nw"),
          intEl("td", k + "batches", x.batches, "num"),
          intEl("td", k + "quantity", x.quantity, "num"),
          intEl("td", k + "claims", x.claims, "num"),
          pctEl("td", k + "redemption_rate", x.redemption_rate, "num"),
        ]);
      }),
      5,
      "No SKUs yet.",
    );
  }
  function shade(td, rate) {
    var r = Math.max(0, Math.min(1, Number(rate) || 0));
    td.style.backgroundColor = "rgba(21,88,176," + (0.06 + 0.94 * r).toFixed(3) + ")";
    td.style.color = r > 0.45 ? "#fff" : "#1b1b1b";
  }
  function renderParticipants(p, tz) {
    setInt($("p-count"), p.participants);
    var rr = clear($("p-repeat"));
    rr.appendChild(pctEl("span", "repeat_rate", p.repeat_rate));
    var h = p.histogram || [];
    chart("c-hist", {
      type: "bar",
      data: {
        labels: h.map(function (x) {
          return String(x.claims);
        }),
        datasets: [
          {
            label: "Participants",
            data: h.map(function (x) {
              return Number(x.participants) || 0;
            }),
            backgroundColor: "#1558b0",
          },
        ],
      },
      options: (function (o) {
        o.plugins.legend.display = false;
        o.scales.x.title = { display: true, text: "Claims per participant", color: "#4f4f4f", font: FONT };
        return o;
      })(options(false)),
    });
    table(
      $("hist-body"),
      h.map(function (x) {
        return row([rowHead(String(x.claims)), intEl("td", "histogram." + x.claims, x.participants, "num")]);
      }),
      2,
      "No participants yet.",
    );
    var cs = p.cohorts || [],
      weeks = cs.reduce(function (a, c) {
        return Math.max(a, (c.retention || []).length);
      }, 0),
      head = clear($("cohort-head")),
      hr = el("tr");
    [["Cohort (week of)"], ["Size", "num"]]
      .concat(
        Array.from({ length: weeks }, function (_, k) {
          return ["Week " + k, "num"];
        }),
      )
      .forEach(function (x) {
        var th = el("th", x[0], x[1]);
        th.scope = "col";
        hr.appendChild(th);
      });
    head.appendChild(hr);
    table(
      $("cohort-body"),
      cs.map(function (c) {
        var k = "cohort." + c.week + ".",
          cells = [rowHead(c.week, "nw"), intEl("td", k + "participants", c.participants, "num")];
        for (var i = 0; i < weeks; i++) {
          var r = (c.retention || [])[i],
            td = el("td");
          if (r) {
            td.appendChild(pctEl("span", k + r.week + ".rate", r.rate));
            var n = el("small");
            n.appendChild(intEl("span", k + r.week, r.participants));
            n.appendChild(doc.createTextNode(" people"));
            td.appendChild(n);
            td.title = r.participants + " of " + c.participants + " came back in week " + r.week;
            shade(td, r.rate);
          }
          cells.push(td);
        }
        return row(cells);
      }),
      2 + weeks,
      "No cohorts yet.",
    );
    table(
      $("top-body"),
      (p.top || []).map(function (t) {
        var k = "top." + t.rank + ".",
          th = intEl("th", k + "rank", t.rank, "num");
        th.scope = "row";
        return row([
          th,
          el("td", t.phone || t.shopper_id || "\u2013", "nw"),
          intEl("td", k + "claims", t.claims, "num"),
          intEl("td", k + "points", t.points, "num"),
          intEl("td", k + "entries", t.entries, "num"),
          el("td", when(t.first_claim_at, tz), "nw"),
          el("td", when(t.last_claim_at, tz), "nw"),
        ]);
      }),
      7,
      "No participants yet.",
    );
  }

  if (token) {
    var c0 = qrcClaims(token);
    if (c0 && typeof c0.exp === "number" && c0.exp * 1000 < Date.now()) showSignIn(MSG_401);
    else signedIn();
  } else showSignIn("");
})();
