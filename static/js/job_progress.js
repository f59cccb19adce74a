// Polls an estimate job's status and moves the progress bar; reloads when it is done.
(function () {
  "use strict";
  var box = document.getElementById("job-progress");
  if (!box) { return; }
  var bar = box.querySelector(".progress-bar");
  var meter = box.querySelector(".progress");
  var status = box.querySelector("[data-role=status]");
  var message = box.querySelector("[data-role=message]");

  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        var percent = Math.round(job.progress * 100);
        bar.style.width = percent + "%";
        meter.setAttribute("aria-valuenow", percent);
        status.textContent = job.status;
        message.textContent = job.message;
        if (job.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
