/*
 * What both pages' scripts share: this tab's session storage, which never throws. A page
 * keeps its token (and little else) here, never in local storage or a cookie, so closing
 * the tab or signing out forgets it. Built in front of each page's own script.
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
