// Small DOM helpers: elements are built from data, never from HTML strings.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let fieldCount = 0;

// A labelled form control; `attrs` go to the input (or select / textarea).
export function field(label, attrs = {}, { hint, control = "input", options = [] } = {}) {
  const id = attrs.id || `f${++fieldCount}`;
  const hintId = hint ? `${id}-hint` : undefined;
  let input;
  if (control === "select") {
    input = h("select", { ...attrs, id, "aria-describedby": hintId },
      options.map((o) => h("option", { value: o.value, selected: o.selected, disabled: o.disabled }, o.label)));
  } else if (control === "textarea") {
    input = h("textarea", { ...attrs, id, "aria-describedby": hintId });
  } else {
    input = h("input", { type: "text", ...attrs, id, "aria-describedby": hintId });
  }
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

export function formData(form) {
  const data = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (typeof value === "string") data[name] = value;
  }
  return data;
}

export function when(iso, { short = false } = {}) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: short ? "short" : "medium", timeStyle: "short" });
}

export function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${currency}`;
  }
}

// Keeps a button from being pressed twice while its request runs.
export async function busy(button, work) {
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    return await work();
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

export function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}
