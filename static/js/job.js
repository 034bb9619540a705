// The page of a long job (templates/core/job.html) follows it in place: every few seconds it fetches
// itself and puts the new state into #job, until the job has ended. Screen readers hear, politely,
// when the step changes and when the job ends, not every count. Without JavaScript, the page
// refreshes itself instead (a <meta> refresh inside <noscript>).
(function () {
  "use strict";
  var box = document.getElementById("job");
  var news = document.getElementById("job-news");
  if (!box || !news || !box.dataset.refresh || !window.fetch || !window.DOMParser) {
    return;
  }
  var interval = Number(box.dataset.refresh) * 1000;
  var step = box.dataset.step;

  function update() {
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("job");
        if (!fresh) {
          return;
        }
        box.innerHTML = fresh.innerHTML;
        if (fresh.dataset.refresh) {
          if (fresh.dataset.step !== step) {
            step = fresh.dataset.step;
            news.textContent = step;
          }
          window.setTimeout(update, interval);
        } else {
          news.textContent = fresh.dataset.outcome;
        }
      })
      .catch(function () {
        window.setTimeout(update, interval * 3); // the server or the network is busy: ask less often
      });
  }

  window.setTimeout(update, interval);
})();
