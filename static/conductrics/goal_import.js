// The admin's import of offline conversions (visitors/admin_import.py): while the page is
// open, judge the import a part at a time, showing progress, rows/s and time left. Closing
// the page pauses it; opening it again resumes it. Without JavaScript, "Continue" judges
// one part per press.
(function () {
  "use strict";

  function start() {
    var box = document.querySelector(".goal-import[data-status=running]");
    var form = box && box.querySelector("form.import-actions");
    if (!form) return;
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var bar = document.getElementById("import-progress");
    var done = document.getElementById("import-done");
    var rate = document.getElementById("import-rate");
    var error = document.getElementById("import-error");
    var button = document.getElementById("import-continue");
    var started = Date.now();
    var first = null;

    function show(progress) {
      bar.max = progress.rows;
      bar.value = progress.rows_done;
      done.textContent = progress.rows_done;
      Object.keys(progress.verdicts).forEach(function (verdict) {
        var cell = box.querySelector("td[data-verdict=" + verdict + "]");
        if (cell) cell.textContent = progress.verdicts[verdict];
      });
      if (first === null) first = progress.rows_done;
      var seconds = (Date.now() - started) / 1000;
      var perSecond = (progress.rows_done - first) / Math.max(seconds, 0.001);
      if (perSecond > 0) {
        var left = Math.round((progress.rows - progress.rows_done) / perSecond);
        rate.textContent = "· " + Math.round(perSecond) + " rows/s · " +
          Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") + " left";
      }
    }

    function fail(message) {
      error.textContent = message;
      error.hidden = false;
      button.hidden = false;
      button.textContent = "Try again";
    }

    function step() {
      var body = new URLSearchParams({ action: "step", csrfmiddlewaretoken: token });
      fetch(window.location.pathname, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token },
      })
        .then(function (response) {
          return response.json().then(function (progress) {
            if (!response.ok) throw new Error(progress.error || "HTTP " + response.status);
            return progress;
          });
        })
        .then(function (progress) {
          show(progress);
          if (progress.status === "running") step();
          else window.location.reload();
        })
        .catch(function (err) {
          fail("The import paused: " + err.message);
        });
    }

    button.hidden = true;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      button.hidden = true;
      started = Date.now();
      first = null;
      step();
    });
    step();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
