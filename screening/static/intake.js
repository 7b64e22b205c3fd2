// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Hide the pregnancy questions while "Male" is the chosen sex at birth.
  function syncPregnancy() {
    var group = document.querySelector(".js-pregnancy-questions");
    if (!group) { return; }
    var male = document.querySelector('input[name="sex_at_birth"][value="male"]');
    group.hidden = Boolean(male && male.checked);
  }

  // Move focus to the error summary so screen readers announce it.
  function focusErrors() {
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); }
  }

  // Keep a double click from sending the final form twice (the server ignores it anyway).
  function guardSubmit() {
    var form = document.querySelector(".submit-form");
    if (!form) { return; }
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    syncPregnancy();
    document.querySelectorAll('input[name="sex_at_birth"]').forEach(function (input) {
      input.addEventListener("change", syncPregnancy);
    });
    focusErrors();
    guardSubmit();
  });
}());
