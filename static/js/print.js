// A "Print" button: the browser's print dialog (the page's print styles hide what is not to be printed).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
