/*
 * What every page's scripts share, built in front of them (assets.ASSETS lists it first):
 * this tab's session storage, which never throws; elements built from API data (text only,
 * never HTML); numbers, dates and the strings' {name} placeholders; where the API lives and
 * the one way to call it (a bearer token, a timeout, no cookie, no cache). A page keeps its
 * token (and little else) here, never in local storage or a cookie, so closing the tab or
 * signing out forgets it. ES5, like the pages: cheap phones run old browsers.
 */
var qrcSession = {
  get: function (key) {
    try {
      return sessionStorage.getItem(key);
    } catch (e) {
      return null;
    }
  },
  put: function (key, value) {
    try {
      if (value == null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, value);
    } catch (e) {}
  },
};
var qrcDom = {
  byId: function (id) {
    return document.getElementById(id);
  },
  // A new element holding `text` (as text) with class `cls`.
  el: function (tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  },
  clear: function (e) {
    while (e.firstChild) e.removeChild(e.firstChild);
    return e;
  },
};
var qrcFormat = {
  // `text` with each {name} replaced by values[name]: the translations' placeholders.
  fill: function (text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name];
    });
  },
  // A count grouped as `locale` writes it (undefined: as the browser's language does).
  number: function (n, locale) {
    try {
      return Number(n).toLocaleString(locale);
    } catch (e) {
      return String(n);
    }
  },
  // A date or time from the API in words, as toLocaleString(locale, options) puts it. A
  // value that is no date is shown as it came; a time zone this browser cannot use (old
  // ones throw on any) gives way to the browser's own rather than to no date at all.
  date: function (value, locale, options) {
    var t = new Date(value);
    if (value == null || isNaN(t)) return value == null ? "" : String(value);
    try {
      return t.toLocaleString(locale, options);
    } catch (e) {
      var own = {};
      for (var name in options) if (name !== "timeZone") own[name] = options[name];
      return t.toLocaleString(locale, own);
    }
  },
};
var qrcApi = {
  // Each page's own routes (app.py): what is left of its path without them is the API's
  // prefix on this origin, the API Gateway stage if any.
  routes: { shopper: /\/(?:[sS]|wallet)\/[^\/]*\/?$/, dashboard: /\/dashboard\/?$/ },
  // Where the API lives for `page`: `given` (the server's data-api) if any, else this origin.
  base: function (page, given) {
    return given || location.pathname.replace(qrcApi.routes[page], "");
  },
  // GET `url`, or POST when options.body is given (as JSON; options.method for another), with options.token as the
  // bearer and options.headers added. Resolves to {ok, status, body, retry} (body null when
  // the answer is not JSON, retry the Retry-After header), or to null when the network
  // failed or options.timeout ms (30 s) passed: a request never hangs a page.
  request: function (url, options) {
    var o = options || {},
      headers = { Accept: "application/json" },
      controller = window.AbortController ? new AbortController() : null,
      timer = setTimeout(function () {
        if (controller) controller.abort();
      }, o.timeout || 3e4);
    if (o.body !== undefined) headers["Content-Type"] = "application/json";
    if (o.token) headers.Authorization = "Bearer " + o.token;
    for (var name in o.headers) headers[name] = o.headers[name];
    function done(answer) {
      clearTimeout(timer);
      return answer;
    }
    return fetch(url, {
      method: o.method || (o.body === undefined ? "GET" : "POST"),
      headers: headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      cache: "no-store",
      credentials: "omit",
      signal: controller ? controller.signal : undefined,
    }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            return done({
              ok: response.ok,
              status: response.status,
              body: body,
              retry: response.headers.get("Retry-After"),
            });
          });
      },
      function () {
        return done(null);
      },
    );
  },
};
