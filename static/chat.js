// deskbot portal chat: when the server says the conversation has new lines (an agent's
// reply, say), fetch the conversation again and show it. Without this script the page still
// works: every send reloads it.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource || !window.fetch) {
    return;
  }
  var after = live.getAttribute("data-last") || "0";
  var source = new EventSource("/portal/chat/events?after=" + encodeURIComponent(after));
  source.addEventListener("update", function () {
    fetch("/portal/chat/live", { credentials: "same-origin" })
      .then(function (r) {
        return r.ok ? r.text() : Promise.reject(r.status);
      })
      .then(function (html) {
        live.innerHTML = html;
      })
      .catch(function () {});
  });
})();
