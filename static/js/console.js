// Checkpoints Admin — small enhancements over pages that work without JavaScript.
// Loaded with `defer` after htmx; no inline scripts anywhere (CSP).
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // Live tables poll with hx-trigger="every Ns, visible-again from:document".
  // Pause while the tab is hidden; refresh at once when it shows again.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (document.hidden && elt && elt.hasAttribute && elt.hasAttribute("data-poll")) {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    document.querySelectorAll("[data-poll]").forEach(function (elt) {
      elt.classList.toggle("is-paused", document.hidden);
    });
    if (!document.hidden) {
      document.dispatchEvent(new CustomEvent("visible-again"));
    }
  });

  // A checkpoint's summary refreshes itself; the view below it (calendar, lists) does not, as
  // a selection may be under way there. When the summary shows another version than the
  // view, the view says so and offers to be drawn again.
  document.addEventListener("htmx:afterSettle", function () {
    var overview = document.getElementById("overview");
    var tabs = document.getElementById("tabs");
    var note = tabs && tabs.querySelector("[data-stale-note]");
    if (overview && note) {
      note.hidden = overview.getAttribute("data-version") === tabs.getAttribute("data-version");
    }
  });

  // A swap that replaces the control a keyboard user just used (‹ › of the calendar, a tab, a
  // page link) or is on (a live refresh of the list or of a checkpoint's summary) would leave
  // the focus on <body>, and the next Tab starts the page again. The same control in the new
  // content takes the focus back: the same id, the same data-focus-key (for a control whose
  // words change: a count, "Copied"), or the same kind of element with the same text; else
  // the swapped region itself.
  var refocus = null;

  function focusKey(element) {
    if (element.id) {
      return { id: element.id };
    }
    return {
      key: element.getAttribute("data-focus-key"),
      tag: element.tagName,
      role: element.getAttribute("role"),
      text: (element.textContent || "").trim(),
    };
  }

  function findByKey(root, key) {
    if (key.id) {
      return document.getElementById(key.id);
    }
    if (key.key) {
      return root.querySelector('[data-focus-key="' + CSS.escape(key.key) + '"]');
    }
    var found = null;
    root.querySelectorAll(key.tag).forEach(function (element) {
      if (
        found === null &&
        element.getAttribute("role") === key.role &&
        (element.textContent || "").trim() === key.text
      ) {
        found = element;
      }
    });
    return found;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    var active = document.activeElement;
    refocus = null;
    if (target && active && active !== document.body && target.contains(active)) {
      refocus = { targetId: target.id, key: focusKey(active) };
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (refocus === null) {
      return;
    }
    var wanted = refocus;
    refocus = null;
    if (document.activeElement && document.activeElement !== document.body) {
      return; // something else took the focus on purpose (a marked field)
    }
    var root = (wanted.targetId && document.getElementById(wanted.targetId)) || document.body;
    var element = findByKey(root, wanted.key);
    if (element) {
      element.focus({ preventScroll: true });
    }
    if (document.activeElement !== element && root !== document.body) {
      // gone from the new content, or there but hidden or disabled: the region, not <body>
      if (!root.hasAttribute("tabindex")) {
        root.setAttribute("tabindex", "-1");
      }
      root.focus({ preventScroll: true });
    }
  });

  // A search, a filter, a sort or a page link swaps the results in silence; a screen reader
  // hears how many there are now (a live refresh, which nobody asked for, says nothing).
  var announcer = null;
  function announce(words) {
    announcer = announcer || document.getElementById("announcer");
    if (!announcer) {
      return;
    }
    announcer.textContent = "";
    window.setTimeout(function () {
      announcer.textContent = words; // set after clearing, so the same words are said again
    }, 50);
  }
  function wordsOf(element) {
    return element ? element.textContent.replace(/\s+/g, " ").trim() : null;
  }
  // A refresh says nothing, but for a line marked data-announce-change (the status page's
  // overall state) that now reads differently: the refresh replaces it, and a live region
  // made anew with each swap would never be read out.
  var watched = wordsOf(document.querySelector("[data-announce-change]"));
  document.addEventListener("htmx:afterSettle", function (event) {
    var elt = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    var target = event.detail && event.detail.target;
    if (!target) {
      return;
    }
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll")) {
      var now = wordsOf(document.querySelector("[data-announce-change]"));
      if (now && watched !== null && now !== watched) {
        announce(now);
      }
      watched = now;
      return;
    }
    var root = (target.id && document.getElementById(target.id)) || target;
    var said = root.querySelector && root.querySelector("[data-announce]");
    if (said) {
      announce(wordsOf(said));
    }
  });

  // A table row opens its checkpoint (the name cell is a real link for keyboards and no-JS).
  document.addEventListener("click", function (event) {
    var row = event.target.closest("tr[data-href]");
    if (!row || event.target.closest("a, button, input, select, label, summary")) {
      return;
    }
    if (window.getSelection && String(window.getSelection()).length > 0) {
      return; // the user is selecting text, not navigating
    }
    if (event.metaKey || event.ctrlKey) {
      window.open(row.getAttribute("data-href"), "_blank", "noopener");
    } else {
      window.location.assign(row.getAttribute("data-href"));
    }
  });

  // Dismissible messages. The keyboard focus, when it was on the × removed, goes to the next
  // message's × (or the previous one's), else to the page's content: not back to <body>, from
  // where the next Tab would start the page again.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) {
      var message = button.closest(".message");
      if (message) {
        var hadFocus = document.activeElement === button;
        var neighbour = message.nextElementSibling || message.previousElementSibling;
        message.remove();
        if (hadFocus) {
          var next = neighbour && neighbour.querySelector("[data-dismiss]");
          if (!next) {
            next = document.getElementById("main");
            next.setAttribute("tabindex", "-1");
          }
          next.focus({ preventScroll: true });
        }
      }
    }
  });

  // Copy buttons: <button data-copy="value">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button || !navigator.clipboard) {
      return;
    }
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("is-done");
      window.setTimeout(function () {
        button.textContent = label;
        button.classList.remove("is-done");
      }, 1500);
    });
  });

  // Copy buttons need the Clipboard API; hide them where it is missing (plain HTTP). New
  // content shows them on htmx:load, before htmx:afterSettle: a button still hidden then
  // could not take back the focus a live refresh found it had.
  function showCopyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = !navigator.clipboard;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    showCopyButtons(document);
  });
  document.addEventListener("htmx:load", function (event) {
    var root = event.target;
    if (root && root.querySelectorAll) {
      if (root.matches && root.matches("button[data-copy]")) {
        root.hidden = !navigator.clipboard;
      }
      showCopyButtons(root);
    }
  });
})();
