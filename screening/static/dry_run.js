// Dry-run page: while the run is queued or running, ask for its progress every two seconds and
// update the progress bar; reload the page when it is done, failed or interrupted. Without
// JavaScript the page says to reload it.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) {
    return;
  }
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var url = box.getAttribute("data-progress-url");

  function update(state) {
    if (state.status === "done" || state.status === "failed" || state.stalled) {
      window.location.reload();
      return;
    }
    if (bar) {
      bar.value = state.percent;
    }
    if (text) {
      text.textContent = state.processed.toLocaleString("en-US") + " of " +
        state.total.toLocaleString("en-US") + " submissions (" + state.percent + " %)";
    }
    window.setTimeout(poll, 2000);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(update)
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 1000);
})();
