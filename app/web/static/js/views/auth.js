// Signing up, confirming the address, signing in, and resetting a forgotten password.

import { ApiError, get, post, startSession } from "../api.js";
import { field, formData, h, replace } from "../dom.js";
import { flash, navigate } from "../main.js";
import { errorBox, notice, onSubmit, page, section, showError } from "./ui.js";

function safeNext(query) {
  const next = query.get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/projects";
}

export async function signin(main, _params, query) {
  const box = errorBox();
  const extra = h("div");
  const form = h("form", { class: "stack narrow", novalidate: true },
    field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    box, extra,
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  onSubmit(form, box, async () => {
    replace(extra);
    const data = formData(form);
    try {
      const tokens = await post("auth/signin", data, { auth: false });
      startSession(tokens);
      flash(`Signed in as ${tokens.user.username}.`);
      navigate(safeNext(query), { replaceState: true });
    } catch (error) {
      if (error instanceof ApiError && error.code === "email_not_confirmed") {
        replace(extra, resendButton(data.email, extra));
      }
      throw error;
    }
  });
  page(main, "Sign in", form,
    h("p", {}, h("a", { href: "/forgot-password", "data-link": true }, "Forgot your password?")),
    h("p", {}, "New here? ", h("a", { href: "/signup", "data-link": true }, "Create an account")));
}

function resendButton(email, where) {
  const status = h("div", { role: "status" });
  const button = h("button", {
    type: "button",
    onclick: async () => {
      try {
        const result = await post("auth/resend-confirmation", { email }, { auth: false });
        notice(status, result.message);
        status.append(await outboxLinks(email));
      } catch (error) {
        showError(status, error);
      }
    },
  }, "Send the confirmation mail again");
  return h("div", { class: "stack" }, button, status);
}

// On embedded defaults the API keeps mails in an outbox and lists them at /dev/outbox; a
// real deployment has no such route, and the person reads their own inbox.
async function outboxLinks(email, page = "confirm-email", label = "Open the confirmation link") {
  let mails;
  try {
    mails = await get(`dev/outbox?${new URLSearchParams({ to: email, limit: "1" })}`, { auth: false });
  } catch {
    return h("span");
  }
  if (!mails.length) return h("span");
  const mail = mails[0];
  const link = mail.links.find((url) => url.includes(`/${page}?`));
  if (!link) return h("span");
  const url = new URL(link);
  const local = url.origin === location.origin;
  return h("div", { class: "dev-mail" },
    h("p", {}, h("strong", {}, "Development server: "), `the mail “${mail.subject}” is in the outbox.`),
    h("p", {}, h("a", { href: local ? url.pathname + url.search : link, "data-link": local || null, class: "button" }, label)));
}

export async function signup(main) {
  const box = errorBox();
  const result = h("div");
  const form = h("form", { class: "stack narrow", novalidate: true },
    field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
    field("Username", { name: "username", autocomplete: "username", required: true }, { hint: "3–30 letters, digits or underscores." }),
    field("Full name", { name: "full_name", autocomplete: "name", required: true }),
    field("Date of birth", { name: "dob", type: "date", autocomplete: "bday", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true }, { hint: "At least 8 characters." }),
    field("Confirm password", { name: "confirm_password", type: "password", autocomplete: "new-password", required: true }),
    box,
    h("button", { type: "submit", class: "primary" }, "Create account"));
  onSubmit(form, box, async () => {
    const data = formData(form);
    await post("auth/signup", data, { auth: false });
    replace(result,
      section("Check your mail",
        h("p", {}, `We sent a confirmation link to ${data.email}. Open it to finish signing up.`),
        await outboxLinks(data.email),
        resendButton(data.email)));
    form.hidden = true;
    result.querySelector("h2").setAttribute("tabindex", "-1");
    result.querySelector("h2").focus();
  });
  page(main, "Create your account", form, result,
    h("p", {}, "Have an account? ", h("a", { href: "/signin", "data-link": true }, "Sign in")));
}

export async function confirmEmail(main, _params, query) {
  const token = query.get("token") || "";
  const box = errorBox();
  page(main, "Confirm your email", h("p", { class: "muted" }, "Confirming…"), box);
  try {
    const result = await post("auth/confirm", { token }, { auth: false });
    page(main, "Email confirmed", h("p", { class: "ok" }, result.message),
      h("p", {}, h("a", { href: "/signin", "data-link": true, class: "button primary" }, "Sign in")));
  } catch (error) {
    page(main, "Confirm your email", box);
    showError(box, error);
  }
}

export async function forgotPassword(main) {
  const box = errorBox();
  const status = h("div", { role: "status" });
  const form = h("form", { class: "stack narrow", novalidate: true },
    field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
    box, status,
    h("button", { type: "submit", class: "primary" }, "Send a reset link"));
  onSubmit(form, box, async () => {
    const data = formData(form);
    const result = await post("auth/forgot-password", data, { auth: false });
    notice(status, result.message);
    status.append(await outboxLinks(data.email, "reset-password", "Open the reset link"));
  });
  page(main, "Forgot your password?", form);
}

export async function resetPassword(main, _params, query) {
  const box = errorBox();
  const form = h("form", { class: "stack narrow", novalidate: true },
    field("New password", { name: "password", type: "password", autocomplete: "new-password", required: true }),
    field("Confirm new password", { name: "confirm_password", type: "password", autocomplete: "new-password", required: true }),
    box,
    h("button", { type: "submit", class: "primary" }, "Set the new password"));
  onSubmit(form, box, async () => {
    const result = await post("auth/reset-password", { ...formData(form), token: query.get("token") || "" }, { auth: false });
    flash(result.message);
    navigate("/signin", { replaceState: true });
  });
  page(main, "Choose a new password", form);
}
