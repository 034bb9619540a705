// Conveniences of the scoring page and the self-assessment (templates/appraisal/sheet_form.html), added
// by script; the page works without them. Each competency can be folded away once done; each level's
// indicators can all be marked "Consistently demonstrated" at once, then adjusted one by one; the
// Save button at the foot brings you back to the competency you were on, not to the top; and on a
// phone the page shows one competency (or section) at a time, with Previous and Next.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form) {
    return;
  }

  function hidden(text) {
    var span = document.createElement("span");
    span.className = "visually-hidden";
    span.textContent = text;
    return span;
  }

  form.querySelectorAll(".sheet-competency").forEach(function (section) {
    var header = section.querySelector(".card-header");
    var heading = header && header.querySelector("h2");
    if (!heading) {
      return;
    }
    var button = document.createElement("button");
    var word = document.createElement("span");
    button.type = "button";
    button.className = "btn btn-link btn-sm p-0 float-end";
    button.setAttribute("aria-expanded", "true");
    word.textContent = "Fold";
    button.append(word, hidden(" " + heading.textContent));
    button.addEventListener("click", function () {
      var folded = section.classList.toggle("is-folded");
      button.setAttribute("aria-expanded", String(!folded));
      word.textContent = folded ? "Unfold" : "Fold";
    });
    header.insertBefore(button, heading);
  });

  form.querySelectorAll(".sheet-level").forEach(function (level) {
    var radios = level.querySelectorAll("input[type=radio][value=consistently]");
    var heading = level.querySelector("h3");
    if (!radios.length || !heading) {
      return;
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-outline-secondary btn-sm mark-level";
    button.append(
      "Mark all " + radios.length + " “Consistently demonstrated”",
      hidden(" at " + heading.textContent)
    );
    button.addEventListener("click", function () {
      radios.forEach(function (radio) {
        radio.checked = true;
      });
      form.dispatchEvent(new Event("change", { bubbles: true })); // saved like any other change
    });
    heading.insertAdjacentElement("afterend", button);
  });

  form.addEventListener("submit", function (event) {
    if (event.submitter && event.submitter.name) {
      return; // a competency's own Save button, or "Save and go to the record"
    }
    var current = null;
    form.querySelectorAll(".sheet-competency").forEach(function (section) {
      if (!section.hidden && section.getBoundingClientRect().top < window.innerHeight / 3) {
        current = section;
      }
    });
    if (!current) {
      return;
    }
    var anchor = form.querySelector("input[type=hidden][name=anchor]");
    if (!anchor) {
      anchor = document.createElement("input");
      anchor.type = "hidden";
      anchor.name = "anchor";
      form.appendChild(anchor);
    }
    anchor.value = current.id;
  });

  var phone = window.matchMedia("(max-width: 575.98px)");
  var steps = Array.prototype.slice.call(form.querySelectorAll(".sheet-step"));
  if (!phone.matches || steps.length < 2) {
    return;
  }
  function title(step) {
    var heading = step.querySelector("h2");
    return heading ? heading.textContent.trim() : "";
  }
  function show(index, focus) {
    steps.forEach(function (step, number) {
      step.hidden = number !== index;
    });
    if (focus) {
      var heading = steps[index].querySelector("h2");
      heading.setAttribute("tabindex", "-1");
      heading.focus();
      steps[index].scrollIntoView();
    }
  }
  steps.forEach(function (step, index) {
    var nav = document.createElement("div");
    nav.className = "step-nav d-flex flex-wrap justify-content-between gap-2 my-3 px-3";
    [index - 1, index + 1].forEach(function (other) {
      if (other < 0 || other >= steps.length) {
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-outline-primary btn-sm";
      button.textContent = (other < index ? "Previous: " : "Next: ") + title(steps[other]);
      button.addEventListener("click", function () {
        show(other, true);
      });
      nav.appendChild(button);
    });
    step.appendChild(nav);
  });
  function showTarget() {
    var target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    var index = target
      ? steps.findIndex(function (step) {
          return step.contains(target);
        })
      : -1;
    if (index >= 0) {
      show(index, false);
      target.scrollIntoView();
    }
    return index >= 0;
  }
  window.addEventListener("hashchange", showTarget);
  if (!showTarget()) {
    show(0, false);
  }
})();
