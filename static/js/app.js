// Behaviour that needs JavaScript; every page works without it. No inline handlers (CSP).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});

// The assessment form's plan choices: the live panel never redraws them, so their state is kept here.
function planChoices() {
  const section = document.getElementById("plan-section");
  if (!section) {
    return;
  }
  const chosen = section.querySelector("input[name='maintenance_choice']:checked");
  const individualised = document.getElementById("individualised-fields");
  if (individualised) {
    // Disabled fields are not sent; the server ignores them anyway unless "individualised" is chosen.
    individualised.disabled = !(chosen && chosen.value === "individualised");
  }
  const state = (document.getElementById("plan-status") || {}).dataset || {};
  const createPlan = document.getElementById("id_create_plan");
  const save = document.getElementById("save-button");
  if (save) {
    const withPlan = (state.state === "plan" || state.state === "pending") && createPlan && createPlan.checked;
    save.textContent = withPlan ? save.dataset.labelPlan : save.dataset.labelAlone;
  }
}

// After a failed save, the error summary (or the notice that the decision changed) takes the focus.
function focusProblem() {
  const problem = document.getElementById("error-summary") || document.getElementById("decision-changed");
  if (problem) {
    problem.focus();
  }
}

document.addEventListener("change", (event) => {
  if (event.target.closest("#plan-section")) {
    planChoices();
  }
});
document.addEventListener("DOMContentLoaded", () => {
  planChoices();
  focusProblem();
});
document.addEventListener("htmx:afterSettle", (event) => {
  planChoices();
  if (event.detail.target && event.detail.target.tagName === "MAIN") {
    focusProblem();
  }
});
