// Behaviour that needs JavaScript; every page works without it. No inline handlers (CSP).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
