/*
 * The shopper's wallet with one brand, a step of the landing page: points, tier, points
 * to the next tier and when the tier lapses, what expires next, the brand's rewards with
 * a redeem button (delivery details for a gift), the voucher code once redeemed, the
 * shopper's lucky-draw prizes with this brand (accept with delivery details, or decline,
 * before the deadline), past rewards and recent scans, this brand's marketing consent
 * (GET/PUT /v1/me/consents), the brand's own purposes accepted (an optional one withdrawn:
 * POST /v1/me/consents/withdrawals), "my data" (GET /v1/me/data) counted by kind with its
 * download, and deleting the account (POST /v1/me/deletion says what it does and texts a
 * code; POST /v1/me/deletion/confirm with it deletes, and the page signs out).
 *
 * landing.js calls qrcWallet(page) once the document is ready, handing over its helpers
 * (strings, the API call, the token, the steps); this file only defines that function.
 * Elements, placeholders and dates come from shared.js. Data goes into the page through
 * textContent only. ES5, like the rest of the page.
 */
function qrcWallet(page) {
  "use strict";
  var $ = page.$,
    strings = page.strings,
    format = qrcFormat.fill,
    many = page.many;
  var brand = page.brand;
  var chosen = null;
  // Refusals of a redemption, each with its own message (the API's error codes).
  var REFUSALS = [
    "not_enough_points",
    "out_of_stock",
    "limit_reached",
    "reward_retired",
    "reward_not_available",
  ];

  var el = qrcDom.el,
    clear = qrcDom.clear;
  function line(id, text) {
    $(id).textContent = text || "";
    $(id).hidden = !text;
  }
  function say(text) {
    line("w-msg", text);
  }
  // zone: the brand's time zone, whose midnights points expire and tiers lapse at; else the phone's.
  function day(iso, zone) {
    var options = { day: "numeric", month: "long", year: "numeric", timeZone: zone || undefined };
    return qrcFormat.date(iso, page.lang === "fil" ? "fil-PH" : page.lang, options);
  }

  // --- reading -----------------------------------------------------------------------
  function showMember(member) {
    var m = member || { points: 0 };
    var tier = m.tier,
      next = m.next_tier,
      expiring = m.expiring;
    $("w-points").textContent = many("points", m.points);
    var none = member ? "" : strings.wallet_none;
    line("w-tier", tier ? format(strings.wallet_tier, { tier: tier.name }) : none);
    var needed = next && many("points", next.points_needed);
    line("w-next", next ? format(strings.wallet_next, { points: needed, tier: next.name }) : "");
    line(
      "w-lapse",
      tier && tier.lapses_at
        ? format(strings.wallet_lapse, { tier: tier.name, date: day(tier.lapses_at, m.timezone) })
        : "",
    );
    line(
      "w-expiry",
      expiring
        ? format(strings.wallet_expiring, {
            points: many("points", expiring.points),
            date: day(expiring.at, m.timezone),
          })
        : "",
    );
  }
  function showRewards(catalog) {
    var list = clear($("w-rewards"));
    var items = (catalog && catalog.items) || [];
    if (!items.length) list.appendChild(el("li", strings.wallet_empty, "muted"));
    items.forEach(function (reward) {
      var item = el("li");
      item.setAttribute("data-reward", reward.reward_id);
      item.appendChild(el("strong", reward.name));
      if (reward.description) item.appendChild(el("span", reward.description, "muted"));
      item.appendChild(el("span", many("points", reward.cost), "cost"));
      if (!reward.on_offer) {
        item.appendChild(el("span", strings.wallet_out, "muted"));
      } else if (!reward.affordable) {
        var short = many("points", reward.cost - catalog.points);
        item.appendChild(el("span", format(strings.wallet_need, { points: short }), "muted"));
      } else {
        item.appendChild(el("span", many("wallet_left", reward.available), "muted"));
        var button = el("button", strings.wallet_redeem);
        button.type = "button";
        button.addEventListener("click", function () {
          choose(reward);
        });
        item.appendChild(button);
      }
      list.appendChild(item);
    });
  }
  function showMine(answer) {
    var list = clear($("w-mine"));
    var items = ((answer && answer.items) || []).filter(function (r) {
      return r.brand_id === brand;
    });
    if (!items.length) list.appendChild(el("li", strings.wallet_mine_none, "muted"));
    items.forEach(function (r) {
      var item = el("li");
      item.appendChild(el("strong", r.reward_name));
      var status = strings["wallet_status_" + r.status] || r.status;
      item.appendChild(el("span", day(r.created_at) + " \u00b7 " + status, "muted"));
      if (r.voucher_code) item.appendChild(el("code", r.voucher_code));
      list.appendChild(item);
    });
  }
  function showHistory(me) {
    var list = clear($("w-history"));
    var claims = (me && me.history) || [];
    if (!claims.length) list.appendChild(el("li", strings.wallet_history_none, "muted"));
    claims.forEach(function (c) {
      var parts = [];
      if (c.points) parts.push("+" + many("points", c.points));
      if (c.entries) parts.push("+" + many("entries", c.entries));
      if (c.prize) parts.push(format(strings.prize, { name: c.prize }));
      var item = el("li");
      item.appendChild(el("span", parts.join(strings.and) || strings.nothing));
      item.appendChild(el("span", day(c.claimed_at) + (c.sku ? " \u00b7 " + c.sku : ""), "muted"));
      list.appendChild(item);
    });
  }
  // --- lucky-draw prizes ---------------------------------------------------------------
  var WIN_FIELDS = ["name", "phone", "address", "id_number"];
  // ISO 4217 minor units: the dong has none in use, the peso has centavos.
  var EXPONENT = { VND: 0, PHP: 2 };
  function money(minor, currency) {
    var amount = minor / Math.pow(10, EXPONENT[currency] || 0);
    try {
      return new Intl.NumberFormat(page.lang, { style: "currency", currency: currency }).format(amount);
    } catch (e) {
      return amount + " " + currency;
    }
  }
  function moment(iso) {
    var options = { dateStyle: "medium", timeStyle: "short" };
    return qrcFormat.date(iso, page.lang === "fil" ? "fil-PH" : page.lang, options);
  }
  function winRefusal(answer) {
    var error = (answer && answer.body && answer.body.error) || {};
    var named = error.field && strings["win_" + error.field];
    if (error.code === "invalid_input" && named) return format(strings.win_e_field, { field: named });
    return page.problem(answer);
  }
  function act(path, body, button) {
    var bearer = page.token();
    if (!bearer) return page.signedOut();
    page.call(path, { body: body, token: bearer }, button).then(function (answer) {
      if (answer && answer.status === 401) return page.signedOut();
      if (!answer || !answer.ok) return say(winRefusal(answer));
      load();
    });
  }
  function winForm(win) {
    var form = el("form", null, "win-form");
    form.noValidate = true;
    var inputs = {};
    WIN_FIELDS.forEach(function (field) {
      if (field === "id_number" && !win.terms.needs_id) return;
      var input = el("input");
      input.id = "win-" + win.pick + "-" + field;
      input.name = field;
      input.type = field === "phone" ? "tel" : "text";
      if (field === "phone") input.value = page.phone() || "";
      var label = el("label", strings["win_" + field]);
      label.setAttribute("for", input.id);
      form.appendChild(label);
      form.appendChild(input);
      inputs[field] = input;
    });
    var accept = el("button", strings.win_accept);
    accept.type = "submit";
    var decline = el("button", strings.win_decline, "plain");
    decline.type = "button";
    form.appendChild(accept);
    form.appendChild(decline);
    var path = "/v1/me/wins/" + encodeURIComponent(win.draw_id) + "/" + win.pick;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      Object.keys(inputs).forEach(function (field) {
        body[field] = inputs[field].value.trim();
      });
      act(path + "/accept", body, accept);
    });
    // Declining cannot be undone: the first tap asks, the second gives the prize up.
    decline.addEventListener("click", function () {
      if (decline.getAttribute("data-sure")) return act(path + "/decline", {}, decline);
      decline.setAttribute("data-sure", "yes");
      decline.textContent = strings.win_decline_sure;
    });
    return form;
  }
  function showWin(w) {
    var item = el("li", null, "win");
    item.setAttribute("data-win", w.draw_id + "/" + w.pick);
    item.setAttribute("data-status", w.status);
    item.appendChild(el("strong", format(strings.win_prize, { prize: w.prize, draw: w.draw_name })));
    var t = w.terms;
    if (t.unit_value != null && t.currency) {
      var value = { value: money(t.unit_value, t.currency), tax: money(t.tax_withheld || 0, t.currency) };
      item.appendChild(el("span", format(strings.win_value, value), "muted"));
    }
    item.appendChild(el("span", strings["win_status_" + w.status] || w.status, "win-status"));
    if (w.note) item.appendChild(el("span", format(strings.win_note, { note: w.note }), "muted"));
    if (w.reason) item.appendChild(el("span", format(strings.win_reason, { reason: w.reason }), "muted"));
    if (w.status === "offered") {
      item.appendChild(el("span", format(strings.win_deadline, { date: moment(w.deadline) }), "win-deadline"));
      item.appendChild(winForm(w));
    }
    return item;
  }
  function showWins(answer) {
    var list = clear($("w-wins"));
    var items = ((answer && answer.items) || []).filter(function (w) {
      return w.brand_id === brand;
    });
    $("w-wins-card").hidden = !items.length;
    items.forEach(function (w) {
      list.appendChild(showWin(w));
    });
  }

  // Points, catalog, past rewards, prizes and scans in parallel; a failure of any says so once.
  function load() {
    var bearer = page.token();
    if (!bearer) return page.signedOut();
    var brandPath = encodeURIComponent(brand);
    return Promise.all([
      page.call("/v1/me?limit=10", { token: bearer }),
      page.call("/v1/brands/" + brandPath + "/rewards?limit=50", { token: bearer }),
      page.call("/v1/me/redemptions?limit=20", { token: bearer }),
      page.call("/v1/me/wins", { token: bearer }),
      page.call("/v1/me/consents", { token: bearer }),
      page.call("/v1/brands/" + brandPath + "/purposes", {}),
    ]).then(function (answers) {
      if (
        answers.some(function (a) {
          return a && a.status === 401;
        })
      )
        return page.signedOut();
      var failed = answers.filter(function (a) {
        return !a || !a.ok;
      })[0];
      var me = answers[0] && answers[0].ok ? answers[0].body : null;
      if (me) {
        showMember(
          (me.memberships || []).filter(function (m) {
            return m.brand_id === brand;
          })[0],
        );
        showHistory(me);
      }
      if (answers[1] && answers[1].ok) showRewards(answers[1].body);
      if (answers[2] && answers[2].ok) showMine(answers[2].body);
      if (answers[3] && answers[3].ok) showWins(answers[3].body);
      if (answers[5] && answers[5].ok) brandPurposes = answers[5].body.purposes || [];
      // A choice on its way wins over what was read before it.
      if (answers[4] && answers[4].ok && !$("w-marketing").disabled) showConsents(answers[4].body);
      say(failed === undefined ? "" : page.problem(failed));
    });
  }

  // --- redeeming ---------------------------------------------------------------------
  function choose(reward) {
    chosen = reward;
    say("");
    $("w-confirm").textContent = format(strings.wallet_confirm_title, {
      name: reward.name,
      points: many("points", reward.cost),
    });
    $("w-delivery").hidden = reward.kind !== "gift";
    if (reward.kind === "gift" && !$("d-phone").value) $("d-phone").value = page.phone() || "";
    $("f-redeem").hidden = false;
    $("f-redeem").scrollIntoView();
  }
  function refusal(answer) {
    var error = (answer && answer.body && answer.body.error) || {};
    if (REFUSALS.indexOf(error.code) >= 0) return strings["wallet_e_" + error.code];
    var field = error.field || "";
    if (error.code === "invalid_input" && /^delivery/.test(field)) return strings.wallet_e_delivery;
    return page.problem(answer);
  }
  function redeemed(made) {
    var title = made.voucher_code ? strings.wallet_voucher_title : strings.wallet_gift_title;
    $("w-done-title").textContent = title;
    $("w-voucher").textContent = made.voucher_code || "";
    $("w-voucher").hidden = !made.voucher_code;
    $("w-done-body").textContent = made.voucher_code
      ? strings.wallet_voucher_hint
      : format(strings.wallet_gift_body, { name: made.reward_name });
    var left = made.points_left;
    line("w-left", left != null ? format(strings.wallet_points_left, { points: many("points", left) }) : "");
    $("w-done").hidden = false;
    $("f-redeem").hidden = true;
    $("w-done").scrollIntoView();
    $("w-done").focus();
  }
  $("f-redeem").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!chosen) return;
    var bearer = page.token();
    if (!bearer) return page.signedOut();
    var body = { reward_id: chosen.reward_id };
    if (chosen.kind === "gift") {
      body.delivery = {
        name: $("d-name").value.trim(),
        phone: $("d-phone").value.trim(),
        address: $("d-address").value.trim(),
      };
      if (!body.delivery.name || !body.delivery.phone || body.delivery.address.length < 5)
        return say(strings.wallet_e_delivery);
    }
    // One key per reward until it is answered: a tap sent again after a lost answer gets
    // the same redemption back instead of a second one.
    var keyName = "qrc.rkey." + chosen.reward_id;
    var redeem = { body: body, token: bearer, headers: { "Idempotency-Key": page.key(keyName) } };
    page.call("/v1/me/redemptions", redeem, $("b-redeem")).then(function (answer) {
      if (answer && answer.status === 401) return page.signedOut();
      if (answer && answer.status < 500) page.forget(keyName);
      if (!answer || !answer.ok) return say(refusal(answer));
      chosen = null;
      redeemed(answer.body);
      load();
    });
  });
  $("b-redeem-cancel").addEventListener("click", function () {
    chosen = null;
    $("f-redeem").hidden = true;
    say("");
  });
  // --- the shopper's data: this brand's marketing consent, and "my data" --------------
  var brandPurposes = [];
  function showConsents(consents) {
    $("w-marketing").checked = (consents.marketing_brands || []).indexOf(brand) >= 0;
    var list = clear($("w-purposes"));
    var mine = (consents.brand_purposes || []).filter(function (g) {
      return g.brand_id === brand;
    });
    if (!mine.length) list.appendChild(el("li", strings.purposes_none, "muted"));
    mine.forEach(function (g) {
      var shown = brandPurposes.filter(function (p) {
        return p.id === g.purpose;
      })[0];
      var item = el("li");
      item.setAttribute("data-purpose", g.purpose);
      item.appendChild(el("span", shown ? shown.text[page.lang] || shown.text.vi : g.purpose));
      if (shown && shown.required) {
        item.appendChild(el("span", strings.purpose_required, "muted"));
      } else {
        var button = el("button", strings.purpose_withdraw, "plain");
        button.type = "button";
        button.addEventListener("click", function () {
          withdraw(g.purpose, button);
        });
        item.appendChild(button);
      }
      list.appendChild(item);
    });
  }
  function withdraw(purpose, button) {
    var bearer = page.token();
    if (!bearer) return page.signedOut();
    var body = { brand_id: brand, purpose: purpose };
    page.call("/v1/me/consents/withdrawals", { body: body, token: bearer }, button).then(function (answer) {
      if (answer && answer.status === 401) return page.signedOut();
      if (!answer || !answer.ok) return say(page.problem(answer));
      showConsents(answer.body);
    });
  }
  $("w-marketing").addEventListener("change", function () {
    var bearer = page.token();
    if (!bearer) return page.signedOut();
    var box = $("w-marketing");
    var choice = { body: { brand_id: brand, marketing: box.checked }, token: bearer, method: "PUT" };
    box.disabled = true;
    page.call("/v1/me/consents", choice).then(function (answer) {
      box.disabled = false;
      if (answer && answer.status === 401) return page.signedOut();
      if (!answer || !answer.ok) {
        box.checked = !box.checked;
        return say(page.problem(answer));
      }
      showConsents(answer.body);
    });
  });
  var KINDS = ["claims", "memberships", "redemptions", "draws", "wins", "consents"];
  function counted(data, kind) {
    var value = data[kind];
    if (kind === "consents") return (value && value.accepted ? value.accepted.length : 0);
    if (value && value.items) return value.items.length;
    return value ? value.length : 0;
  }
  var download = null;
  $("b-mydata").addEventListener("click", function () {
    var bearer = page.token();
    if (!bearer) return page.signedOut();
    page.call("/v1/me/data", { token: bearer }, $("b-mydata")).then(function (answer) {
      if (answer && answer.status === 401) return page.signedOut();
      if (!answer || !answer.ok) return say(page.problem(answer));
      var data = answer.body;
      var list = $("w-mydata-list");
      clear(list);
      KINDS.forEach(function (kind) {
        var n = counted(data, kind);
        var more = data[kind] && data[kind].next_cursor ? "+" : "";
        var key = "mydata_" + kind; // mydata_claims_one, mydata_claims_other, ... (strings/*.json)
        list.appendChild(el("li", many(key, n) + more));
      });
      // The download is the answer itself, kept in the page: the API needs the token, a link cannot carry it.
      if (download) URL.revokeObjectURL(download);
      download = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      $("w-mydata-link").href = download;
      $("w-mydata").hidden = false;
    });
  });

  // --- deleting the account: what it does first, then the fresh code from the SMS ------
  function deleteSay(text) {
    line("w-delete-msg", text);
  }
  function consequences(preview) {
    var list = clear($("w-delete-what"));
    var points = preview.points_forfeited || [];
    if (!points.length) list.appendChild(el("li", strings.delete_no_points));
    points.forEach(function (p) {
      var forfeited = { points: many("points", p.points), brand: p.brand_id };
      list.appendChild(el("li", format(strings.delete_points, forfeited)));
    });
    (preview.wins_kept || []).forEach(function (w) {
      var offered = w.status === "offered";
      var kept = { prize: w.prize, date: moment(w.deadline) };
      list.appendChild(el("li", format(strings[offered ? "delete_win_offered" : "delete_win"], kept)));
    });
    (preview.gifts_kept || []).forEach(function (g) {
      list.appendChild(el("li", format(strings.delete_gift, { reward: g.reward })));
    });
  }
  function askToDelete(button) {
    var bearer = page.token();
    if (!bearer) return page.signedOut();
    deleteSay("");
    page.call("/v1/me/deletion", { body: {}, token: bearer }, button).then(function (answer) {
      if (answer && answer.status === 401) return page.signedOut();
      if (!answer || !answer.ok) return deleteSay(page.problem(answer));
      // Already confirmed and running (a crash halfway): finishing it checks no code, any six digits do.
      if (answer.body.sent === false) return confirmDeletion("000000");
      consequences(answer.body);
      line("w-delete-sent", format(strings.delete_sent, { phone: answer.body.phone }));
      $("f-delete").hidden = false;
      $("b-delete").hidden = true;
      $("w-delete-otp").value = "";
      $("w-delete-otp").focus();
    });
  }
  function confirmDeletion(otp) {
    var bearer = page.token();
    if (!bearer) return page.signedOut();
    var confirm = { body: { otp: otp }, token: bearer };
    page.call("/v1/me/deletion/confirm", confirm, $("b-delete-confirm")).then(function (answer) {
      if (answer && answer.status === 401) return page.signedOut();
      var error = (answer && answer.body && answer.body.error) || {};
      if (answer && answer.ok) return page.signOut(strings.delete_done);
      if (error.code === "otp_invalid") return deleteSay(strings.delete_e_otp);
      if (error.code === "invalid_input" && error.field === "otp") return deleteSay(strings.e_otp_format);
      deleteSay(page.problem(answer));
    });
  }
  $("b-delete").addEventListener("click", function () {
    askToDelete($("b-delete"));
  });
  $("b-delete-resend").addEventListener("click", function () {
    askToDelete($("b-delete-resend"));
  });
  $("f-delete").addEventListener("submit", function (event) {
    event.preventDefault();
    var otp = $("w-delete-otp").value.replace(/\D/g, "");
    if (otp.length !== 6) return deleteSay(strings.e_otp_format);
    confirmDeletion(otp);
  });
  $("b-delete-cancel").addEventListener("click", function () {
    $("f-delete").hidden = true;
    $("b-delete").hidden = false;
    deleteSay("");
  });

  $("b-w-out").addEventListener("click", page.signOut);
  $("b-back").addEventListener("click", page.back);

  return {
    // Show the wallet step and fill it; `back` offers the way back to the scanned code.
    open: function (back) {
      $("b-back").hidden = !back;
      $("w-done").hidden = true;
      $("f-redeem").hidden = true;
      $("f-delete").hidden = true;
      $("b-delete").hidden = false;
      line("w-delete-msg", "");
      page.show("wallet");
      say("");
      return load();
    },
  };
}
