// Pieces every view uses: error boxes that show the API's message as it is, and sections.

import { h, replace } from "../dom.js";

export function errorBox() {
  return h("div", { class: "error-box", role: "alert", "aria-live": "assertive" });
}

export function showError(box, error) {
  const lines = String(error && error.message ? error.message : error).split("\n");
  replace(box, lines.map((line) => h("p", { class: "error" }, line)));
  box.hidden = false;
}

export function clearError(box) {
  replace(box);
}

export function notice(box, message) {
  replace(box, h("p", { class: "ok" }, message));
}

export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export function page(main, title, ...children) {
  replace(main, h("h1", {}, title), ...children);
}

// Runs `work` for a form submit, showing any error in `box`.
export function onSubmit(form, box, work) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError(box);
    const button = form.querySelector("button[type=submit]");
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
    try {
      await work(event);
    } catch (error) {
      showError(box, error);
    } finally {
      if (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    }
  });
}
