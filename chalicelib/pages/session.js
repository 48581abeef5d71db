/*
 * What both pages' scripts share: this tab's session storage, which never throws, and the
 * two helpers that build their lists and tables from API data (text only, never HTML). A
 * page keeps its token (and little else) here, never in local storage or a cookie, so
 * closing the tab or signing out forgets it. Built in front of each page's own script.
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
