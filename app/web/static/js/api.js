// The public API (/api/v1) and the signed-in session: tokens, transparent refresh, errors.

export const API = "/api/v1";
const STORE_KEY = "mugshot.session";

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
    this.code = body && typeof body === "object" ? body.code : undefined;
  }
}

// The API's own words: `detail` of the shared error shape, or each validation message.
function describe(status, body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail
      .map((item) => {
        const where = (item.loc || []).filter((part) => part !== "body" && part !== "query").join(".");
        return where ? `${where}: ${item.msg}` : item.msg;
      })
      .join("\n");
  }
  return `The server answered ${status}.`;
}

let session = load();
const listeners = new Set();

function load() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY)) || null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) localStorage.setItem(STORE_KEY, JSON.stringify(next));
  else localStorage.removeItem(STORE_KEY);
  for (const listener of listeners) listener(session);
}

export function onSessionChange(listener) {
  listeners.add(listener);
}

export function currentUser() {
  return session ? session.user : null;
}

export function signedIn() {
  return Boolean(session && session.access_token);
}

export function setUser(user) {
  if (session) save({ ...session, user });
}

export function startSession(tokens) {
  save({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, user: tokens.user });
}

export function endSession() {
  save(null);
}

// Storage events: another tab signed in or out.
window.addEventListener("storage", (event) => {
  if (event.key === STORE_KEY) {
    session = load();
    for (const listener of listeners) listener(session);
  }
});

let refreshing = null;

// One refresh at a time: concurrent 401s wait for the same new token.
function refreshTokens() {
  if (!refreshing) {
    const token = session && session.refresh_token;
    refreshing = (async () => {
      if (!token) return false;
      const response = await fetch(`${API}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (!response.ok) {
        // Another tab may have rotated it first; its new token is in storage by now.
        const stored = load();
        if (stored && stored.refresh_token !== token) {
          session = stored;
          return true;
        }
        save(null);
        return false;
      }
      const tokens = await response.json();
      startSession(tokens);
      return true;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) return response.json();
  return response.text();
}

// One request to the API. `body` is sent as JSON unless it is FormData.
// With `raw`, the Response itself is returned (streams); errors still raise ApiError.
export async function request(method, path, { body, headers = {}, auth = true, raw = false, signal } = {}) {
  const send = () => {
    const all = { Accept: "application/json", ...headers };
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      all["Content-Type"] = "application/json";
    }
    if (auth && session && session.access_token) all.Authorization = `Bearer ${session.access_token}`;
    return fetch(path.startsWith("/") ? path : `${API}/${path}`, { method, headers: all, body: payload, signal });
  };
  let response = await send();
  if (response.status === 401 && auth && session) {
    const error = await parse(response.clone()).catch(() => null);
    if (error && error.code === "invalid_token" && (await refreshTokens())) {
      response = await send();
    } else if (error && (error.code === "session_revoked" || error.code === "invalid_token")) {
      save(null);
    }
  }
  if (!response.ok) {
    const errorBody = await parse(response).catch(() => null);
    if (response.status === 401 && auth) save(null);
    throw new ApiError(response.status, errorBody);
  }
  if (raw) return response;
  return parse(response);
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, body, options = {}) => request("POST", path, { ...options, body });
export const patch = (path, body, options = {}) => request("PATCH", path, { ...options, body });
export const del = (path, body, options = {}) => request("DELETE", path, { ...options, body });

// A list, whether the API sends a bare array or a page object ({items, ...}).
export function itemsOf(result) {
  if (Array.isArray(result)) return result;
  return (result && result.items) || [];
}

export function idempotencyKey() {
  return crypto.randomUUID();
}
