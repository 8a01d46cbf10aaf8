// veille sign-in page: posts the credentials as JSON to /api/login, then opens the
// dashboard. The session cookie is HttpOnly: this script never sees it.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  async function signIn(event) {
    event.preventDefault();
    const error = $("login-error");
    error.hidden = true;
    $("login-submit").disabled = true;
    try {
      const response = await fetch("/api/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ name: $("login-name").value, password: $("login-password").value }),
        credentials: "same-origin",
      });
      if (response.ok) {
        location.assign("/");
        return;
      }
      let message = `The server answered ${response.status}.`;
      try {
        const body = await response.json();
        if (body && typeof body.error === "string") message = body.error;
      } catch (_) {
        // keep the status message
      }
      error.textContent = message.charAt(0).toUpperCase() + message.slice(1) + ".";
      error.hidden = false;
    } catch (failure) {
      error.textContent = "Cannot reach the server.";
      error.hidden = false;
    } finally {
      $("login-submit").disabled = false;
      $("login-password").value = "";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", signIn);
  });
})();
