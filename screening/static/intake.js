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

  // In a medicine row, show the field for a typed name only while "Another medicine" is the chosen medicine; while
  // hidden it is disabled, so a name typed and then set aside is not sent (the server would ignore it anyway).
  function syncOtherName(select) {
    var row = select.closest(".medication");
    var name = row && row.querySelector('input[name$="-other_name"]');
    var field = name && name.closest(".field");
    if (field) {
      field.hidden = select.value !== select.dataset.other;
      name.disabled = field.hidden;
    }
  }

  function watchMedicineRows() {
    document.querySelectorAll(".medication select[data-other]").forEach(function (select) {
      syncOtherName(select);
      select.addEventListener("change", function () { syncOtherName(select); });
    });
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
    watchMedicineRows();
    focusErrors();
    guardSubmit();
  });
}());
