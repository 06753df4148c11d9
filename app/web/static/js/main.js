// The app's shell: routes paths to views, keeps the navigation current, moves focus.

import { currentUser, del, endSession, onSessionChange, post, signedIn } from "./api.js";
import { h, replace } from "./dom.js";
import * as auth from "./views/auth.js";
import * as studio from "./views/studio.js";
import * as library from "./views/assets.js";
import * as credits from "./views/credits.js";
import * as account from "./views/account.js";

const routes = [
  ["/", studio.projects, true],
  ["/projects", studio.projects, true],
  ["/projects/new", studio.newProject, true],
  ["/projects/:id", studio.project, true],
  ["/jobs/:id", studio.job, true],
  ["/c/:id", studio.chatLink, true],
  ["/assets", library.assets, true],
  ["/credits", credits.credits, true],
  ["/profile", account.profile, true],
  ["/sessions", account.sessions, true],
  ["/signin", auth.signin, false],
  ["/signup", auth.signup, false],
  ["/confirm-email", auth.confirmEmail, false],
  ["/forgot-password", auth.forgotPassword, false],
  ["/reset-password", auth.resetPassword, false],
];

function match(path) {
  const parts = path.replace(/\/+$/, "").split("/").slice(1);
  for (const [pattern, view, needsAuth] of routes) {
    const want = pattern === "/" ? [] : pattern.split("/").slice(1);
    if (want.length !== parts.length && !(pattern === "/" && parts.length === 0)) continue;
    const params = {};
    let ok = true;
    want.forEach((piece, index) => {
      if (piece.startsWith(":")) params[piece.slice(1)] = decodeURIComponent(parts[index]);
      else if (piece !== parts[index]) ok = false;
    });
    if (ok) return { view, params, needsAuth };
  }
  return null;
}

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const flashBox = document.getElementById("flash");
let renderCount = 0;
let navigated = false;
let cleanup = [];

// A message that outlives the next page change (polite live region).
export function flash(message) {
  replace(flashBox, message ? h("p", {}, message) : null);
}

export function onLeave(callback) {
  cleanup.push(callback);
}

export function navigate(path, { replaceState = false } = {}) {
  navigated = true;
  if (replaceState) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

function renderNav() {
  const here = location.pathname;
  const link = (href, label) =>
    h("a", { href, "data-link": true, "aria-current": here === href || (href !== "/" && here.startsWith(href + "/")) ? "page" : null }, label);
  if (!signedIn()) {
    replace(nav, h("ul", {}, h("li", {}, link("/signin", "Sign in")), h("li", {}, link("/signup", "Sign up"))));
    return;
  }
  const user = currentUser();
  replace(nav, h("ul", {},
    h("li", {}, link("/projects", "Projects")),
    h("li", {}, link("/assets", "Images")),
    h("li", {}, link("/credits", `Credits${user ? ` (${user.credits})` : ""}`)),
    h("li", {}, link("/profile", "Profile")),
    h("li", {}, link("/sessions", "Sessions")),
    h("li", {}, h("button", { type: "button", class: "linkish", onclick: signOut }, "Sign out"))));
}

async function signOut() {
  try {
    await post("auth/logout");
  } catch {
    // Signed out locally either way.
  }
  endSession();
  flash("You are signed out.");
  navigate("/signin");
}

export async function render() {
  for (const callback of cleanup.splice(0)) callback();
  const token = ++renderCount;
  const found = match(location.pathname);
  renderNav();
  if (!found) {
    replace(main, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "/", "data-link": true }, "Go to your projects")));
    return;
  }
  if (found.needsAuth && !signedIn()) {
    const next = location.pathname + location.search;
    history.replaceState(null, "", `/signin?next=${encodeURIComponent(next)}`);
    return render();
  }
  const query = new URLSearchParams(location.search);
  replace(main, h("p", { class: "muted" }, "Loading…"));
  try {
    await found.view(main, found.params, query, { isCurrent: () => token === renderCount });
  } catch (error) {
    if (token !== renderCount) return;
    if (!signedIn() && found.needsAuth) return render();
    // A 404 here is often another account's id in the address: the API's words say which.
    const heading = error.status === 404 ? "Not found" : "Something went wrong";
    replace(main, h("h1", {}, heading), h("p", { class: "error", role: "alert" }, error.message),
      h("p", {}, h("a", { href: "/projects", "data-link": true }, "Go to your projects")));
  }
  if (token !== renderCount) return;
  const heading = main.querySelector("h1");
  document.title = heading ? `${heading.textContent} · MugShot Studio` : "MugShot Studio";
  // Focus follows a page change, so keyboard and screen-reader users start at its heading;
  // the first page keeps the browser's own start (the skip link comes first).
  if (heading && navigated) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
}

document.addEventListener("click", (event) => {
  const anchor = event.target.closest("a[data-link]");
  if (!anchor || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(anchor.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  flash("");
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", () => {
  navigated = true;
  render();
});
onSessionChange(() => {
  renderNav();
  if (!signedIn() && match(location.pathname)?.needsAuth) render();
});


render();
