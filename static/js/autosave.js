// The scoring page and the self-assessment (templates/appraisal/sheet_form.html) save themselves: a
// moment after each change, the whole form goes to the page's autosave address (data-autosave), which
// saves it as the Save button does, through the same service and the same revision check, and answers
// with the new revision and each competency's progress and derived level, worked out on the server.
// The status beside the Save button says what happened, politely to screen readers. A conflict (another
// tab or person saved first) stops the saving and says so. Leaving with something unsaved asks first.
// Nothing is kept in the browser's storage. Without JavaScript the page saves with its buttons, as ever.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  var status = document.getElementById("autosave-status");
  if (!form || !status || !window.fetch || !window.FormData) {
    return;
  }
  var revision = form.querySelector("input[name=revision]");
  var DELAY = 1500; // after the last change, in milliseconds
  var timer = null;
  var inFlight = false;
  var dirty = false; // a change not yet sent
  var stopped = false; // a conflict, or signed out: only the Save button from here
  var submitting = false;
  var waitingSubmit = null; // the Save button pressed while an autosave was on its way

  function say(text, problem) {
    status.textContent = text;
    status.classList.toggle("text-danger", Boolean(problem));
  }

  function changed() {
    dirty = true;
    if (stopped) {
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(save, DELAY);
  }

  function save() {
    if (inFlight) {
      timer = window.setTimeout(save, DELAY);
      return;
    }
    if (!dirty || stopped) {
      return;
    }
    dirty = false;
    inFlight = true;
    say("Saving…");
    fetch(form.dataset.autosave, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)), // form-encoded: quicker for the server to read than multipart
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (response.redirected) {
          var signedOut = new Error("You have been signed out. Press Save draft: what you typed is kept while you sign in again.");
          signedOut.stop = true;
          throw signedOut;
        }
        return response.json().then(function (data) {
          return { status: response.status, data: data };
        });
      })
      .then(function (result) {
        inFlight = false;
        var data = result.data;
        if (data.saved) {
          revision.value = data.revision;
          say("Saved at " + data.saved_at);
          show(data);
        } else {
          dirty = true;
          stopped = stopped || data.conflict || result.status === 409;
          say("Not saved: " + data.message, true);
        }
        finish();
      })
      .catch(function (error) {
        inFlight = false;
        dirty = true;
        if (error && error.stop) {
          stopped = true;
          say("Not saved: " + error.message, true);
        } else {
          say("Not saved: the server could not be reached. Trying again shortly.", true);
          timer = window.setTimeout(save, DELAY * 4);
        }
        finish();
      });
  }

  function finish() {
    if (waitingSubmit !== null) {
      var button = waitingSubmit;
      waitingSubmit = null;
      submitting = true;
      if (form.requestSubmit) {
        form.requestSubmit(button || undefined);
      } else {
        form.submit();
      }
    }
  }

  function show(data) {
    document.querySelectorAll("[data-rated]").forEach(function (element) {
      element.textContent = data.rated;
    });
    data.competencies.forEach(function (competency) {
      var progress = document.querySelector('[data-progress="' + competency.id + '"]');
      if (progress) {
        progress.textContent = competency.rated + " of " + competency.total + " rated";
      }
      var level = document.querySelector('[data-level="' + competency.id + '"]');
      if (level) {
        level.textContent = competency.level;
      }
      var done = document.querySelector('[data-done="' + competency.id + '"]');
      if (done && competency.rated === competency.total) {
        var mark = document.createElement("span");
        mark.setAttribute("aria-hidden", "true");
        mark.textContent = "✓";
        done.replaceChildren(mark, " all " + competency.total + " rated");
      } else if (done) {
        done.textContent = competency.rated + " of " + competency.total + " rated";
      }
    });
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", function (event) {
    window.clearTimeout(timer);
    if (inFlight && !submitting) {
      // Let the autosave finish first, then save with the revision it returns.
      event.preventDefault();
      waitingSubmit = event.submitter || null;
      return;
    }
    submitting = true;
  });
  window.addEventListener("beforeunload", function (event) {
    if ((dirty || inFlight) && !submitting) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
