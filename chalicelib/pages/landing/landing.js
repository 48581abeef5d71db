/*
 * The shopper landing page's script: sign in with a phone number and a one-time code,
 * then claim the scanned code; the wallet (wallet.js) opens from the claim's answer, or
 * straight after sign-in on /wallet/<brand>. The brand's own purposes are read without a
 * token and shown under the notice, each its own box; the sign-in sends the ones ticked.
 *
 * It runs in <head>, so a remembered language switches before anything is painted; the
 * rest waits for the document. Every string the shopper reads comes from the JSON block
 * the server renders in the page's language (#t); data goes into the page through
 * textContent only, never as HTML; elements, numbers, placeholders and API calls come
 * from shared.js. ES5 on purpose: cheap phones run old browsers.
 * Minified by scripts/build_pages.py and served inline under a CSP hash.
 */
(function () {
  "use strict";
  var doc = document;
  var lang = doc.documentElement.lang;
  var LANGUAGES = { vi: "vi", en: "en", fil: "fil", tl: "fil" };

  // An explicit ?lang= is remembered; without one, a remembered language is restored.
  var asked = /[?&]lang=([^&#]*)/.exec(location.search);
  try {
    if (asked) {
      if (LANGUAGES[decodeURIComponent(asked[1]).toLowerCase().split("-")[0]] === lang) {
        localStorage.setItem("qrc.lang", lang);
      }
    } else {
      var remembered = localStorage.getItem("qrc.lang");
      if (remembered && remembered !== lang && LANGUAGES[remembered] === remembered) {
        location.replace("?lang=" + remembered);
        return;
      }
    }
  } catch (e) {}

  doc.addEventListener("DOMContentLoaded", function () {
    var main = doc.getElementById("app");
    var state = main && main.getAttribute("data-state");
    if (state !== "open" && state !== "wallet") return;
    var strings = JSON.parse(doc.getElementById("t").textContent);
    var code = main.getAttribute("data-code");
    // Empty data-api: the API is on this origin under the same path prefix (the API stage).
    var api = qrcApi.base("shopper", main.getAttribute("data-api"));
    var $ = qrcDom.byId,
      format = qrcFormat.fill;

    function noBreak(text) {
      return String(text || "").replace(/ /g, "\u00a0");
    }
    function many(key, n) {
      return format(strings[key + (n === 1 ? "_one" : "_other")], { n: qrcFormat.number(n, lang) });
    }
    // The session lives in this tab only (sessionStorage): a shared phone forgets it.
    var get = qrcSession.get;
    var put = qrcSession.put;

    var message = $("msg");
    var phone = get("qrc.phone");
    // Answers after which claiming this code again cannot help.
    var FINAL = ["code_invalid", "code_already_claimed", "code_not_active", "campaign_not_running"];

    function say(text) {
      message.textContent = text || "";
      message.hidden = !text;
    }
    function show(step) {
      ["phone", "otp", "claim", "wallet"].forEach(function (name) {
        var section = $("s-" + name);
        if (section) section.hidden = name !== step;
      });
    }
    function token() {
      var saved = get("qrc.token");
      if (saved && Date.parse(get("qrc.exp") || "") > Date.now() + 5e3) return saved;
      put("qrc.token", null);
      return null;
    }
    function waitText(seconds) {
      if (seconds < 60) return many("seconds", seconds);
      if (seconds < 7200) return many("minutes", Math.ceil(seconds / 60));
      return many("hours", Math.ceil(seconds / 3600));
    }
    function problem(answer) {
      if (!answer) return strings.e_network;
      var error = (answer.body && answer.body.error) || {};
      var kind = error.code || "";
      if (kind === "limit_reached") {
        var seconds = parseInt(answer.retry, 10);
        return seconds > 0 ? format(strings.limit_wait, { wait: waitText(seconds) }) : strings.limit;
      }
      if (kind === "invalid_input" && (error.field === "otp" || error.field === "phone")) {
        return error.field === "otp" ? strings.e_otp_format : strings.e_phone_invalid;
      }
      return strings["e_" + kind] || (answer.status >= 500 ? strings.e_busy : strings.e_error);
    }
    // qrcApi.request (a JSON `body` POSTs, `token` is the bearer) from this page's API; the
    // button, if any, shows "please wait" meanwhile. Resolves to {ok, status, body, retry}
    // or null when the network failed or 30 s passed.
    function call(path, options, button) {
      var label = button && button.textContent;
      if (button) {
        button.disabled = true;
        button.textContent = strings.wait;
      }
      say("");
      return qrcApi.request(api + path, options).then(function (answer) {
        if (button) {
          button.disabled = false;
          button.textContent = label;
        }
        // The steps read fields off every answer's body: one that was not JSON reads as empty.
        if (answer && answer.body == null) answer.body = {};
        return answer;
      });
    }

    // --- the brand's own purposes under the notice ------------------------------------
    var brand = main.getAttribute("data-brand");
    var purposes = null; // GET /v1/brands/<brand>/purposes once read: {version, purposes}
    function showPurposes() {
      var box = qrcDom.clear($("purposes"));
      purposes.purposes.forEach(function (p) {
        var input = qrcDom.el("input");
        input.type = "checkbox";
        input.id = "purpose-" + p.id;
        input.setAttribute("data-purpose", p.id);
        if (p.required) input.setAttribute("data-required", "yes");
        var label = qrcDom.el("label", null, "check");
        label.setAttribute("for", input.id);
        // The words and their "required"/"optional" tag in one span: the label lays out box and text side by side.
        var words = qrcDom.el("span", (p.text[lang] || p.text.vi) + " ");
        words.appendChild(qrcDom.el("span", strings[p.required ? "purpose_required" : "purpose_optional"], "muted"));
        label.appendChild(input);
        label.appendChild(words);
        box.appendChild(label);
      });
      box.hidden = !purposes.purposes.length;
    }
    // Read once; a failed read is tried again when the number is sent (none is sent before it).
    function loadPurposes() {
      if (purposes || !brand) return Promise.resolve(true);
      var path = "/v1/brands/" + encodeURIComponent(brand) + "/purposes";
      return qrcApi.request(api + path, {}).then(function (answer) {
        if (!answer || !answer.ok || !answer.body || !answer.body.purposes) return false;
        purposes = answer.body;
        showPurposes();
        return true;
      });
    }
    function purposeBoxes() {
      return Array.prototype.slice.call($("purposes").getElementsByTagName("input"));
    }
    function ticked() {
      return purposeBoxes()
        .filter(function (box) {
          return box.checked;
        })
        .map(function (box) {
          return box.getAttribute("data-purpose");
        });
    }

    // --- sign-in ---------------------------------------------------------------------
    function sendCode(number, button) {
      call("/v1/shopper/otp", { body: { phone: number } }, button).then(function (answer) {
        if (!answer || !answer.ok) return say(problem(answer));
        phone = number;
        put("qrc.phone", number);
        $("sent").textContent = format(strings.code_sent, {
          phone: noBreak(answer.body.phone),
          minutes: Math.round((answer.body.expires_in || 300) / 60),
        });
        show("otp");
        $("otp").value = "";
        $("otp").focus();
      });
    }
    function signedIn() {
      $("done").hidden = true;
      if (state === "wallet") return wallet.open(false);
      $("who").textContent = format(strings.signed_in, { phone: noBreak(get("qrc.who")) });
      show("claim");
    }
    // One idempotency key per name (a code, a redemption) and tab: a request sent again
    // gets the original answer back.
    function idempotencyKey(name) {
      var value = get(name);
      if (!value) {
        var bytes = new Uint8Array(16);
        crypto.getRandomValues(bytes);
        value = Array.prototype.map
          .call(bytes, function (b) {
            return (b + 256).toString(16).slice(1);
          })
          .join("");
        put(name, value);
      }
      return value;
    }

    // --- the claim's answer ----------------------------------------------------------
    function showResult(grant) {
      var parts = [];
      if (grant.points) parts.push(many("points", grant.points));
      if (grant.entries) parts.push(many("entries", grant.entries));
      $("r-title").textContent = grant.replay ? strings.replay_title : strings.granted;
      $("r-what").textContent = grant.replay
        ? strings.replay_body
        : parts.length
          ? parts.join(strings.and)
          : strings.nothing;
      $("r-what").className = grant.replay ? "" : "big";
      $("r-prize").textContent = grant.prize ? format(strings.prize, { name: grant.prize.name }) : "";
      $("r-prize").hidden = !grant.prize;
      $("r-balance").textContent = format(strings.balance, {
        points: many("points", grant.balance.points),
        entries: many("entries", grant.balance.entries),
      });
      $("result").hidden = false;
      $("b-claim").hidden = true;
      $("result").scrollIntoView();
    }

    $("f-phone").addEventListener("submit", function (event) {
      event.preventDefault();
      var number = $("phone").value.trim();
      // The notice, and each of the brand's required purposes, are accepted before the number leaves the phone.
      if (!$("accept").checked) return say(strings.e_notice);
      if (!number) return say(strings.e_phone_invalid);
      loadPurposes().then(function (read) {
        if (!read) return say(strings.e_network);
        var missing = purposeBoxes().filter(function (box) {
          return box.getAttribute("data-required") && !box.checked;
        });
        if (missing.length) return say(strings.e_purpose);
        sendCode(number, $("b-send"));
      });
    });
    $("f-otp").addEventListener("submit", function (event) {
      event.preventDefault();
      var otp = $("otp").value.replace(/\D/g, "");
      if (otp.length !== 6) return say(strings.e_otp_format);
      // What the shopper accepted: the notice shown (its version), all its purposes, in this page's language,
      // and the brand's purposes ticked under it (with the version shown).
      var consent = { notice: main.getAttribute("data-notice"), purposes: ["promotion", "loyalty"], language: lang };
      if (purposes) {
        consent.brand_id = brand;
        consent.brand_version = purposes.version;
        consent.brand_purposes = ticked();
      }
      var body = { phone: phone, otp: otp, consent: consent };
      call("/v1/shopper/session", { body: body }, $("b-signin")).then(function (answer) {
        if (!answer || !answer.ok) return say(problem(answer));
        put("qrc.token", answer.body.token);
        put("qrc.exp", answer.body.expires_at);
        put("qrc.who", answer.body.phone);
        signedIn();
      });
    });
    $("b-resend").addEventListener("click", function () {
      sendCode(phone, $("b-resend"));
    });
    $("b-other").addEventListener("click", function () {
      put("qrc.phone", null);
      say("");
      show("phone");
      $("phone").focus();
    });
    // `done`: why the page signs out (the account deleted): said, and the number and boxes left empty.
    function signOut(done) {
      var gone = typeof done === "string";
      $("done").textContent = gone ? done : "";
      $("done").hidden = !gone;
      if (gone) {
        $("phone").value = "";
        [$("accept")].concat(purposeBoxes()).forEach(function (box) {
          box.checked = false;
        });
      }
      ["qrc.token", "qrc.exp", "qrc.who", "qrc.phone"].forEach(function (name) {
        put(name, null);
      });
      if ($("result")) {
        $("result").hidden = true;
        $("b-claim").hidden = false;
      }
      say("");
      show("phone");
    }
    // A call that needs the shopper's token: without a live one, back to sign-in.
    function signedOut() {
      put("qrc.token", null);
      show("phone");
      say(strings.e_unauthorized);
    }

    var wallet = qrcWallet({
      strings: strings,
      lang: lang,
      brand: main.getAttribute("data-brand"),
      $: $,
      many: many,
      call: call,
      problem: problem,
      token: token,
      key: idempotencyKey,
      forget: function (name) {
        put(name, null);
      },
      phone: function () {
        return get("qrc.phone");
      },
      show: show,
      signedOut: signedOut,
      signOut: signOut,
      back: function () {
        show("claim");
      },
    });
    if ($("b-out")) $("b-out").addEventListener("click", signOut);
    if ($("b-wallet"))
      $("b-wallet").addEventListener("click", function () {
        wallet.open(true);
      });
    if ($("b-claim")) $("b-claim").addEventListener("click", function () {
      var bearer = token();
      if (!bearer) {
        show("phone");
        return say(strings.e_unauthorized);
      }
      var headers = { "Idempotency-Key": idempotencyKey("qrc.key." + code) };
      var claim = { body: { code: code }, token: bearer, headers: headers };
      call("/v1/scans", claim, $("b-claim")).then(function (answer) {
        if (answer && answer.ok) return showResult(answer.body);
        if (answer && answer.status === 401) {
          put("qrc.token", null);
          show("phone");
        }
        var kind = answer && answer.body && answer.body.error && answer.body.error.code;
        if (FINAL.indexOf(kind) >= 0) $("b-claim").hidden = true;
        say(problem(answer));
      });
    });

    if (phone) $("phone").value = phone;
    loadPurposes();
    if (token()) signedIn();
    else show("phone");
    $("flow").hidden = false;
  });
})();
