// Reloads the fieldwork monitor every 30 seconds while it is on screen.
(function () {
  "use strict";
  var box = document.getElementById("monitor");
  if (!box) { return; }
  var seconds = parseInt(box.dataset.refreshSeconds, 10) || 30;

  function reloadWhenVisible() {
    if (document.visibilityState === "visible") {
      window.location.reload();
    } else {
      document.addEventListener("visibilitychange", reloadWhenVisible, { once: true });
    }
  }
  setTimeout(reloadWhenVisible, seconds * 1000);
})();
