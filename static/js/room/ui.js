// Small DOM helpers shared by the room's views. Everything is built with createElement and
// textContent: no innerHTML anywhere, so text from the network can never become markup.

/** Create an element: h("button", {class: "x", "aria-label": "Close", onclick}, child, "text"). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** Replace all children of el. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function show(el, visible = true) {
  el.hidden = !visible;
}

/** Initials for an avatar ("Ada Lovelace" → "AL"). */
export function initials(name) {
  const words = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((w) => Array.from(w)[0].toUpperCase()).join("") || "?";
}

/** A stable hue for a participant's avatar, from their id. */
export function hueFor(id) {
  let hash = 0;
  for (const ch of String(id)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 360;
}

export function formatTime(iso) {
  const date = iso ? new Date(iso) : new Date();
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// --- Toasts ---------------------------------------------------------------------------------

/** A short notice at the bottom left; `actions` are [{label, onClick}] buttons. */
export function toast(message, { actions = [], timeout = 6000, kind = "info" } = {}) {
  const host = document.getElementById("toasts");
  if (!host) return () => {};
  const close = () => item.remove();
  const item = h(
    "div",
    { class: `toast ${kind}` },
    h("span", { class: "toast-text", text: message }),
    actions.map(({ label, onClick }) =>
      h("button", { type: "button", class: "toast-action", text: label, onclick: () => { close(); onClick(); } }),
    ),
    h("button", { type: "button", class: "icon-button small", "aria-label": "Dismiss notification", onclick: close }, "×"),
  );
  host.append(item);
  while (host.children.length > 4) host.firstElementChild.remove();
  if (timeout) setTimeout(close, timeout);
  return close;
}

// --- Menus ----------------------------------------------------------------------------------

let openMenu = null;

export function closeMenu() {
  if (!openMenu) return;
  const { menu, button } = openMenu;
  openMenu = null;
  menu.remove();
  button.setAttribute("aria-expanded", "false");
}

/**
 * A popup menu anchored to `button`: items are [{label, onSelect, danger}] and become
 * role=menuitem buttons. One menu is open at a time; Escape or a click outside closes it.
 */
export function openMenuFor(button, items) {
  const reopening = openMenu && openMenu.button === button;
  closeMenu();
  if (reopening) return;
  const menu = h(
    "div",
    { class: "menu", role: "menu", "aria-label": button.getAttribute("aria-label") || "Menu" },
    items.map(({ label, onSelect, danger }) =>
      h("button", {
        type: "button",
        role: "menuitem",
        class: danger ? "danger" : null,
        text: label,
        onclick: () => { closeMenu(); onSelect(); },
      }),
    ),
  );
  document.body.append(menu);
  const rect = button.getBoundingClientRect();
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  const left = Math.max(8, Math.min(rect.right - width, window.innerWidth - width - 8));
  const below = rect.bottom + 4 + height < window.innerHeight;
  menu.style.left = `${left}px`;
  menu.style.top = `${below ? rect.bottom + 4 : Math.max(8, rect.top - height - 4)}px`;
  button.setAttribute("aria-expanded", "true");
  openMenu = { menu, button };
  menu.querySelector("[role=menuitem]")?.focus();
  menu.addEventListener("keydown", (event) => {
    const entries = Array.from(menu.querySelectorAll("[role=menuitem]"));
    const index = entries.indexOf(document.activeElement);
    if (event.key === "ArrowDown") entries[(index + 1) % entries.length].focus();
    else if (event.key === "ArrowUp") entries[(index - 1 + entries.length) % entries.length].focus();
    else if (event.key === "Escape") { closeMenu(); button.focus(); }
    else return;
    event.preventDefault();
  });
}

document.addEventListener("click", (event) => {
  if (openMenu && !openMenu.menu.contains(event.target) && !openMenu.button.contains(event.target)) closeMenu();
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeMenu();
});
