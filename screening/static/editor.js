// Rule editor: the gutter keeps one number beside each line of the text while it is edited, and a load error's
// link puts the caret at the start of its line. Without JavaScript the server's gutter numbers the text as
// loaded, the text area is tall enough for every line, and the error links lead to the numbers in the gutter.
(function () {
  "use strict";
  var area = document.querySelector(".editor-text");
  var gutter = document.querySelector(".editor-gutter");
  if (!area || !gutter) {
    return;
  }
  // Rows below the last line, as the server renders them: the text area never scrolls inside, so each line
  // stays beside its number.
  var SPARE_ROWS = 3;
  // The text the server checked, and the lines of it that it marked with errors.
  var checked = area.defaultValue.split("\n");
  var marked = Array.prototype.map.call(gutter.querySelectorAll(".gutter-error"), function (span) {
    return Number(span.id.slice("line-".length));
  });

  // Count the lines at the start and at the end that are as the server checked them.
  function unchanged(lines) {
    var before = 0;
    var after = 0;
    var most = Math.min(lines.length, checked.length);
    while (before < most && lines[before] === checked[before]) {
      before += 1;
    }
    while (after < most - before &&
           lines[lines.length - 1 - after] === checked[checked.length - 1 - after]) {
      after += 1;
    }
    return { before: before, after: after };
  }

  // Return where line ``number`` of the checked text is now: in place above the edited lines, moved with its
  // line below them, or null when it is one of the edited lines.
  function lineNow(number, lines, kept) {
    if (number <= kept.before) {
      return number;
    }
    if (number > checked.length - kept.after) {
      return number + lines.length - checked.length;
    }
    return null;
  }

  // Return the lines to mark: those the server marked that nobody has changed since (the next save checks the rest).
  function marksNow(lines) {
    var kept = unchanged(lines);
    var now = {};
    marked.forEach(function (number) {
      var line = lineNow(number, lines, kept);
      if (line !== null) {
        now[line] = true;
      }
    });
    return now;
  }

  function numberLine(number, mark) {
    var span = document.createElement("span");
    span.id = "line-" + number;
    span.textContent = (mark ? "!" : " ") + String(number).padStart(4);
    if (mark) {
      span.className = "gutter-error";
    }
    return span;
  }

  // Number every line of the text again and make the text area as tall as its lines.
  function renumber() {
    var lines = area.value.split("\n");
    var marks = marksNow(lines);
    var numbers = document.createDocumentFragment();
    for (var number = 1; number <= lines.length; number += 1) {
      numbers.appendChild(numberLine(number, marks[number]));
      numbers.appendChild(document.createTextNode("\n"));
    }
    gutter.replaceChildren(numbers);
    area.rows = lines.length + SPARE_ROWS;
  }

  // Put the caret at the start of line ``number`` of the checked text, where that line is now (the first of the
  // edited lines when it is one of them), and show it.
  function goToLine(number) {
    var lines = area.value.split("\n");
    var kept = unchanged(lines);
    var now = lineNow(number, lines, kept);
    var line = Math.min(Math.max(now === null ? kept.before + 1 : now, 1), lines.length);
    var start = 0;
    for (var index = 0; index < line - 1; index += 1) {
      start += lines[index].length + 1;
    }
    area.focus({ preventScroll: true });
    area.setSelectionRange(start, start);
    area.scrollLeft = 0;
    document.getElementById("line-" + line).scrollIntoView({ block: "center" });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest('#file-errors a[href^="#line-"]');
    if (link) {
      event.preventDefault();
      goToLine(Number(link.getAttribute("href").slice("#line-".length)));
    }
  });
  area.addEventListener("input", renumber);
  renumber();
})();
