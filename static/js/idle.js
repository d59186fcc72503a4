// Idle timeout: a warning one minute before the session ends, with "Stay signed in"; then the sign-in page.
// The server decides (recommender/access/middleware.py); this only tells the person in time. No inline code (CSP).
(() => {
  const body = document.body;
  const idleSeconds = Number(body.dataset.idleSeconds || 0);
  if (!idleSeconds) {
    return;
  }
  const warnBefore = Math.min(60, Math.floor(idleSeconds / 2));
  let lastActivity = Date.now();
  let banner = null;

  function hideWarning() {
    if (banner) {
      banner.remove();
      banner = null;
    }
  }

  function showWarning() {
    if (banner) {
      return;
    }
    banner = document.createElement("div");
    banner.className = "alert alert-warning idle-warning d-flex align-items-center gap-3";
    banner.setAttribute("role", "alertdialog");
    banner.setAttribute("aria-live", "assertive");
    banner.id = "idle-warning";
    const text = document.createElement("span");
    text.textContent = "You will be signed out in a minute for inactivity. Anything typed and not saved will be lost.";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-primary btn-sm";
    button.textContent = "Stay signed in";
    button.addEventListener("click", stayIn);
    banner.append(text, button);
    (document.getElementById("main") || body).prepend(banner);
    button.focus();
  }

  function signedOut() {
    const next = window.location.pathname + window.location.search;
    const params = new URLSearchParams({ next, ended: "idle" });
    if (document.querySelector("form [data-dirty='true']") || formsTouched) {
      params.set("unsaved", "1");
    }
    window.location.assign(`${body.dataset.loginUrl}?${params}`);
  }

  function stayIn() {
    fetch(body.dataset.keepaliveUrl, { credentials: "same-origin", redirect: "manual" }).then((response) => {
      if (response.status === 204) {
        lastActivity = Date.now();
        hideWarning();
      } else {
        signedOut();
      }
    });
  }

  let formsTouched = false;
  document.addEventListener("input", () => {
    formsTouched = true;
  });
  // Every request to the server is activity (page loads reset the clock by themselves).
  document.addEventListener("htmx:afterRequest", () => {
    lastActivity = Date.now();
    hideWarning();
  });

  window.setInterval(() => {
    const idle = (Date.now() - lastActivity) / 1000;
    if (idle >= idleSeconds) {
      signedOut();
    } else if (idle >= idleSeconds - warnBefore) {
      showWarning();
    }
  }, 1000);
})();
