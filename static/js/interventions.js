// Checkpoints Admin — the intervention controls, over forms that work without JavaScript.
// Calendar selection (click, shift-click for a range), list checkboxes, the reset
// confirmation, "go to line" for JSON errors, and refusals / messages sent by the server
// through htmx. Loaded with `defer` after htmx and console.js; no inline scripts (CSP).
(function () {
  "use strict";

  // --- htmx: a refused step (409 conflict, 422 invalid, 423 locked, 503) is a page to show --

  var SHOWN_STATUSES = [409, 422, 423, 503];
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var elt = detail.requestConfig && detail.requestConfig.elt;
    if (
      SHOWN_STATUSES.indexOf(detail.xhr.status) !== -1 &&
      elt && elt.closest && elt.closest("#intervention")
    ) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  // --- messages sent with HX-Trigger: {"console:message": {"level": …, "text": …}} ----------

  function showMessage(level, text) {
    if (!text) {
      return;
    }
    var box = document.querySelector(".messages");
    if (!box) {
      box = document.createElement("div");
      box.className = "messages";
      box.setAttribute("role", "status");
      var main = document.getElementById("main");
      main.parentNode.insertBefore(box, main);
    }
    var item = document.createElement("div");
    item.className = "message message--" + (level || "info");
    var words = document.createElement("span");
    words.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "message__close";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    item.appendChild(words);
    item.appendChild(close);
    box.appendChild(item);
  }

  document.addEventListener("console:message", function (event) {
    var detail = event.detail || {};
    showMessage(detail.level, detail.text);
  });

  // --- calendar selection ----------------------------------------------------------------

  var selected = new Set(); // ISO dates
  var anchor = null; // the last day clicked without shift
  var MAX_RANGE_DAYS = 40000;

  function selectionForm() {
    return document.querySelector("form[data-selection]");
  }

  function dayCells() {
    return document.querySelectorAll(".calendar [data-date]");
  }

  function addDays(iso, days) {
    var day = new Date(iso + "T00:00:00Z");
    day.setUTCDate(day.getUTCDate() + days);
    return day.toISOString().slice(0, 10);
  }

  function daysBetween(first, last) {
    if (first > last) {
      var swap = first;
      first = last;
      last = swap;
    }
    var out = [];
    for (var day = first; day <= last && out.length < MAX_RANGE_DAYS; day = addDays(day, 1)) {
      out.push(day);
    }
    return out;
  }

  // Runs of consecutive days as ranges A..B: the server takes those of a range's days that
  // are in the list the intervention moves them from, and the preview shows which.
  function compress(dates) {
    var sorted = Array.from(dates).sort();
    var tokens = [];
    var start = null;
    var previous = null;
    function flush() {
      if (start !== null) {
        tokens.push(start === previous ? start : start + ".." + previous);
      }
    }
    sorted.forEach(function (day) {
      if (previous !== null && addDays(previous, 1) === day) {
        previous = day;
        return;
      }
      flush();
      start = previous = day;
    });
    flush();
    return tokens;
  }

  function plural(count, word) {
    return count.toLocaleString("en-US") + " " + word + (count === 1 ? "" : "s");
  }

  // What the selected days are now, as the calendar shows them: a skip takes the pending days
  // and gaps, a reprocess the completed ones; the count alone would overstate either.
  var STATE_WORDS = [
    ["pending", "pending"],
    ["gap", "gap"],
    ["completed", "completed"],
    ["conflict", "in both lists"],
    ["outside", "outside the range"],
  ];

  function breakdown(stateOf) {
    var counts = {};
    selected.forEach(function (day) {
      var state = stateOf[day] || "other";
      counts[state] = (counts[state] || 0) + 1;
    });
    var parts = [];
    STATE_WORDS.forEach(function (pair) {
      var n = counts[pair[0]];
      if (n) {
        parts.push(n.toLocaleString("en-US") + " " + (pair[0] === "gap" && n > 1 ? "gaps" : pair[1]));
      }
    });
    if (counts.other) {
      parts.push(counts.other.toLocaleString("en-US") + " in other months");
    }
    return parts.length ? " · " + parts.join(", ") : "";
  }

  // The states of days seen on the calendar, kept while the person moves between months.
  var stateOf = {};

  // Which selected days an action takes: a skip the pending days and gaps, a reprocess the
  // completed days and gaps (a day in both lists, either); days of months not shown go too,
  // and the preview says what became of each. Sending only these, a selection that also
  // holds days the action cannot take is not refused as a whole.
  var TAKES = {
    skip: { pending: true, gap: true, conflict: true },
    reprocess: { completed: true, gap: true, conflict: true },
  };

  function takenBy(action) {
    var takes = TAKES[action] || {};
    return Array.from(selected).filter(function (day) {
      var state = stateOf[day];
      return state === undefined || takes[state] === true;
    });
  }

  // One day of the calendar is in the Tab order (the selected or first one); the arrow keys
  // move between days, in date order.
  function rovingTabindex(cells) {
    var current = document.activeElement;
    var chosen = null;
    cells.forEach(function (cell) {
      if (cell === current) {
        chosen = cell;
      }
    });
    if (chosen === null) {
      cells.forEach(function (cell) {
        if (chosen === null && selected.has(cell.getAttribute("data-date"))) {
          chosen = cell;
        }
      });
    }
    if (chosen === null) {
      chosen = document.querySelector(".calendar .day--today[data-date]") || cells[0] || null;
    }
    cells.forEach(function (cell) {
      cell.setAttribute("tabindex", cell === chosen ? "0" : "-1");
    });
  }

  function renderSelection() {
    var form = selectionForm();
    if (!form) {
      return;
    }
    var cells = Array.from(dayCells());
    var grid = document.querySelector(".calendar[role=grid]");
    if (grid) {
      grid.setAttribute("aria-multiselectable", "true"); // days are selected, several at once
    }
    cells.forEach(function (cell) {
      var day = cell.getAttribute("data-date");
      var on = selected.has(day);
      stateOf[day] = cell.getAttribute("data-state");
      cell.classList.add("is-selectable");
      cell.classList.toggle("is-selected", on);
      cell.setAttribute("aria-selected", on ? "true" : "false");
    });
    rovingTabindex(cells);
    var count = selected.size;
    form.querySelector("[data-selection-dates]").value = compress(selected).join(" ");
    form.querySelector("[data-selection-count]").textContent =
      count === 0 ? "No dates selected" : plural(count, "date") + " selected" + breakdown(stateOf);
    form.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      var action = button.getAttribute("data-action");
      var taken = action ? takenBy(action).length : count;
      button.disabled = taken === 0;
      button.title =
        count === 0
          ? ""
          : taken === 0
            ? "None of the selected dates can be " + (action === "skip" ? "skipped" : "reprocessed")
            : taken === count
              ? ""
              : plural(taken, "date") + " of the selection can be " +
                (action === "skip" ? "skipped" : "reprocessed");
    });
    var clear = form.querySelector("[data-selection-clear]");
    if (clear) {
      clear.hidden = count === 0;
    }
    form.classList.toggle("has-selection", count > 0);
  }

  function toggleDay(cell, extend) {
    var day = cell.getAttribute("data-date");
    if (extend && anchor !== null) {
      daysBetween(anchor, day).forEach(function (each) {
        selected.add(each);
      });
    } else {
      if (selected.has(day)) {
        selected.delete(day);
      } else {
        selected.add(day);
      }
      anchor = day;
    }
    renderSelection();
  }

  // Shift-click would select the page's text; the calendar takes it instead.
  document.addEventListener("mousedown", function (event) {
    if (event.shiftKey && selectionForm() && event.target.closest(".calendar [data-date]")) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var cell = event.target.closest(".calendar [data-date]");
    if (cell && selectionForm()) {
      toggleDay(cell, event.shiftKey);
      return;
    }
    if (event.target.closest("[data-selection-clear]")) {
      selected.clear();
      anchor = null;
      renderSelection();
    }
  });

  // Ctrl+Enter (⌘+Enter) in a text box submits its form, as in most editors: Enter there
  // starts a new line (a reason, a document, a list of dates).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.defaultPrevented) {
      return;
    }
    var box = event.target;
    if (!box.matches || !box.matches("textarea") || !box.form) {
      return;
    }
    event.preventDefault();
    box.form.requestSubmit();
  });

  // The calendar's rows are weekdays and its columns weeks: across is a week, down a day.
  var ARROWS = { ArrowLeft: -7, ArrowRight: 7, ArrowUp: -1, ArrowDown: 1 };

  document.addEventListener("keydown", function (event) {
    var cell = event.target.closest && event.target.closest(".calendar [data-date]");
    if (!cell || !selectionForm()) {
      return;
    }
    if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      toggleDay(cell, event.shiftKey);
      return;
    }
    if (event.key === "Escape" && selected.size > 0) {  // as "Clear" does
      event.preventDefault();
      selected.clear();
      anchor = null;
      renderSelection();
      return;
    }
    var step = ARROWS[event.key];
    if (step === undefined && (event.key === "Home" || event.key === "End")) {
      var cells = Array.from(dayCells()).sort(function (a, b) {
        return a.getAttribute("data-date") < b.getAttribute("data-date") ? -1 : 1;
      });
      var edge = event.key === "Home" ? cells[0] : cells[cells.length - 1];
      if (edge) {
        event.preventDefault();
        edge.setAttribute("tabindex", "0");
        cell.setAttribute("tabindex", "-1");
        edge.focus();
      }
      return;
    }
    if (step === undefined) {
      return;
    }
    var next = document.querySelector(
      '.calendar [data-date="' + addDays(cell.getAttribute("data-date"), step) + '"]'
    );
    if (next) {
      event.preventDefault();
      next.setAttribute("tabindex", "0");
      cell.setAttribute("tabindex", "-1");
      next.focus();
      if (event.shiftKey) {
        toggleDay(next, true);
      }
    }
  });

  // Each action previews the selected days it can take.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-selection]")) {
      return;
    }
    var action = event.submitter && event.submitter.getAttribute("data-action");
    if (action) {
      form.querySelector("[data-selection-dates]").value = compress(takenBy(action)).join(" ");
    }
  });

  // --- list checkboxes -------------------------------------------------------------------

  function renderList() {
    var form = document.querySelector("form[data-list-selection]");
    if (!form) {
      return;
    }
    var boxes = Array.from(document.querySelectorAll('input[form="list-selection"][data-pick]'));
    var all = form.querySelector("[data-check-all]");
    var everything = all && all.checked;
    boxes.forEach(function (box) {
      // "All matching" is sent as the search; the boxes would repeat part of it.
      box.disabled = everything;
      if (everything) {
        box.checked = true;
      }
    });
    var ticked = boxes.filter(function (box) {
      return box.checked;
    }).length;
    var page = form.querySelector("[data-check-page]");
    if (page) {
      page.checked = boxes.length > 0 && ticked === boxes.length;
      page.disabled = everything;
    }
    var count = form.querySelector("[data-list-count]");
    if (count) {
      count.textContent = everything ? "" : ticked ? ticked + " ticked" : "Tick values to select them";
    }
    form.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      button.disabled = !everything && ticked === 0;
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-check-page]")) {
      document.querySelectorAll('input[form="list-selection"][data-pick]').forEach(function (box) {
        box.checked = target.checked;
      });
    } else if (target.matches("[data-check-all]") && !target.checked) {
      document.querySelectorAll('input[form="list-selection"][data-pick]').forEach(function (box) {
        box.checked = false;
      });
    }
    if (
      target.matches('[data-check-page], [data-check-all], input[form="list-selection"]')
    ) {
      renderList();
    }
  });

  // --- the reset confirmation: the button waits for the exact name ---------------------------

  function confirmHint(typed, name) {
    // What stands between the typed text and the name: said, not only a disabled button.
    if (!typed || typed === name) {
      return typed ? "The name matches." : "";
    }
    if (typed.toLowerCase() === name.toLowerCase()) {
      return "Not the same: letters differ in case.";
    }
    if (name.indexOf(typed) === 0) {
      return "";
    }
    var at = 0;
    while (at < typed.length && typed.charAt(at) === name.charAt(at)) {
      at += 1;
    }
    return "Not the same from character " + (at + 1) + " (\u201c" + typed.slice(at) + "\u201d).";
  }

  function renderConfirm() {
    document.querySelectorAll("input[data-confirm]").forEach(function (input) {
      var form = input.form;
      var name = input.getAttribute("data-confirm");
      var typed = input.value.trim();
      var button = form && form.querySelector("[data-needs-confirm]");
      if (button) {
        button.disabled = typed !== name;
      }
      var hint = form && form.querySelector("[data-confirm-hint]");
      if (hint) {
        hint.textContent = confirmHint(typed, name);
      }
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("input[data-confirm]")) {
      renderConfirm();
    }
  });

  // --- a new checkpoint: a template's "id" follows the name typed, while the document is the
  // template as it came (data-template-id: the id it has); once edited, it is left alone -----

  document.addEventListener("input", function (event) {
    var input = event.target;
    var area = input.id === "id_name" && input.form && input.form.querySelector("#id_document");
    if (!area || !area.hasAttribute("data-template-id")) {
      return;
    }
    var untouched = area.hasAttribute("data-template-text")
      ? area.getAttribute("data-template-text")
      : area.defaultValue;
    if (area.value !== untouched) {
      area.removeAttribute("data-template-id");
      return;
    }
    var typed = input.value.trim();
    var id = (/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(typed) ? typed : "job") + "-1";
    var before = '"id": ' + JSON.stringify(area.getAttribute("data-template-id"));
    area.value = area.value.replace(before, '"id": ' + JSON.stringify(id));
    area.setAttribute("data-template-id", id);
    area.setAttribute("data-template-text", area.value);
  });

  // --- "Set to null": while it is ticked the value beside it is not used (the server ignores
  // it too, for forms posted without JavaScript), so its input and "Now" are disabled ------

  function renderNull() {
    document.querySelectorAll("input[data-null-for]").forEach(function (box) {
      var id = box.getAttribute("data-null-for");
      var input = document.getElementById(id);
      if (input) {
        input.disabled = box.checked;
      }
      document.querySelectorAll('[data-now="#' + CSS.escape(id) + '"]').forEach(function (now) {
        now.disabled = box.checked;
      });
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("input[data-null-for]")) {
      renderNull();
    }
  });

  // --- editors: go to the line of a JSON error; "now" for time fields -----------------------

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-goto]");
    if (button) {
      var area = document.querySelector(button.getAttribute("data-goto"));
      if (!area) {
        return;
      }
      var line = parseInt(button.getAttribute("data-line"), 10) || 1;
      var column = parseInt(button.getAttribute("data-column"), 10) || 1;
      var lines = area.value.split("\n");
      var offset = 0;
      for (var i = 0; i < line - 1 && i < lines.length; i++) {
        offset += lines[i].length + 1;
      }
      offset += Math.max(0, column - 1);
      area.focus();
      area.setSelectionRange(offset, Math.min(offset + 1, area.value.length));
      var height = parseFloat(window.getComputedStyle(area).lineHeight) || 20;
      area.scrollTop = Math.max(0, (line - 4) * height);
      return;
    }
    var now = event.target.closest("[data-now]");
    if (now) {
      var input = document.querySelector(now.getAttribute("data-now"));
      if (input) {
        // An ISO 8601 time, or epoch milliseconds for a field that holds its time so.
        input.value =
          now.getAttribute("data-now-as") === "epoch-ms"
            ? String(Date.now())
            : new Date().toISOString();
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.focus();
      }
    }
  });

  // A refused step comes back with its fields marked: focus the first of them, so the reader
  // (and a screen reader) is at the error, not wherever the swap left the focus.
  document.addEventListener("htmx:afterSettle", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var target = event.detail && event.detail.target;
    if (!xhr || xhr.status < 400 || !target || !target.id) {
      return;
    }
    // The swapped element as it is now (an outerHTML swap replaced the target). Only a form
    // that came back holds marked fields: a live check answering while the person types
    // holds none, so their cursor stays where it is.
    var swapped = document.getElementById(target.id);
    if (!swapped || !swapped.closest("#intervention")) {
      return;
    }
    var invalid = swapped.querySelector('[aria-invalid="true"]');
    if (invalid && !invalid.contains(document.activeElement)) {
      invalid.focus();
    }
  });

  // A step that replaced the whole intervention (a preview, a result, a conflict) puts the
  // focus on its heading, so the next Tab and a screen reader start from what the step says,
  // not from the region as a whole or the top of the page. A control that kept its focus
  // across the swap (the field chooser) or a marked field keeps it.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "intervention") {
      return;
    }
    var swapped = document.getElementById("intervention");
    var active = document.activeElement;
    if (!swapped || (active && active !== document.body && active !== swapped)) {
      return;
    }
    var heading = swapped.querySelector("[data-step-focus]");
    if (heading) {
      heading.focus({ preventScroll: true });
    }
  });

  // A field the server refused, edited since: its error is about text no longer there, so it
  // goes (with its "Go to line" button); the live check, or the next preview, says what holds
  // now. The field stays where the cursor is.
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field || !field.id || field.getAttribute("aria-invalid") !== "true" ||
        !field.closest("#intervention")) {
      return;
    }
    var errorId = field.id + "_error";
    var error = document.getElementById(errorId);
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-errormessage");
    var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(
      function (id) { return id && id !== errorId; }
    );
    if (described.length) {
      field.setAttribute("aria-describedby", described.join(" "));
    } else {
      field.removeAttribute("aria-describedby");
    }
    var wrapper = field.closest(".field");
    if (wrapper) {
      wrapper.classList.remove("field--invalid");
    }
    if (error) {
      var row = error.parentElement;
      if (row && row.classList.contains("row-inline") && row.querySelector("[data-goto]")) {
        row.remove();
      } else {
        error.remove();
      }
    }
  });

  // A step page loaded as the answer to a form (the calendar's "Skip…", a refused step):
  // the focus goes to its marked field, else its heading, not to the top of the page.
  function focusPostedStep() {
    var step = document.querySelector("#intervention[data-focus-step]");
    if (!step || (document.activeElement && document.activeElement !== document.body)) {
      return;
    }
    var target = step.querySelector('[aria-invalid="true"]') || step.querySelector("[data-step-focus]");
    if (target) {
      target.focus({ preventScroll: target.matches("[data-step-focus]") });
    }
  }

  // A refusal swapped into part of a step (a lock held by the job, a version gone): the
  // button pressed was disabled during the request and the focus fell to the page; it goes
  // to what the refusal says.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    var active = document.activeElement;
    if (!target || !target.id || (active && active !== document.body)) {
      return;
    }
    // The swapped element as it is now (an outerHTML swap replaced the target).
    var swapped = document.getElementById(target.id);
    if (!swapped || !swapped.closest("#intervention")) {
      return;
    }
    var said = swapped.querySelector('[role="alert"]');
    if (said) {
      said.setAttribute("tabindex", "-1");
      said.focus();
      return;
    }
    // (only a message was sent: back to the button, to try again)
    var button = swapped.querySelector('button[type="submit"]:not([disabled])');
    if (button) {
      button.focus();
    }
  });

  function refresh() {
    renderSelection();
    renderList();
    renderConfirm();
    renderNull();
  }

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("DOMContentLoaded", focusPostedStep);
  document.addEventListener("htmx:afterSettle", refresh);
  if (document.readyState !== "loading") {
    refresh();
    focusPostedStep();
  }
})();
