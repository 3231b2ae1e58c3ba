// Keyboard shortcuts (Meet's where Meet has one). The help dialog is built from this list, so
// the two cannot drift apart. Ctrl means ⌘ on a Mac.

import { h } from "./ui.js";

export const SHORTCUTS = [
  { action: "mic", keys: "Ctrl + D", code: "KeyD", alt: false, label: "Turn the microphone on or off" },
  { action: "camera", keys: "Ctrl + E", code: "KeyE", alt: false, label: "Turn the camera on or off" },
  { action: "hand", keys: "Ctrl + Alt + H", code: "KeyH", alt: true, label: "Raise or lower your hand" },
  { action: "chat", keys: "Ctrl + Alt + C", code: "KeyC", alt: true, label: "Open or close the chat" },
  { action: "people", keys: "Ctrl + Alt + P", code: "KeyP", alt: true, label: "Open or close the participants list" },
  { action: "layout", keys: "Ctrl + Alt + L", code: "KeyL", alt: true, label: "Switch between gallery and speaker view" },
  { action: "help", keys: "Ctrl + /", code: "Slash", alt: false, label: "Show the keyboard shortcuts" },
];

/** handlers: {action: () => void}; a missing handler leaves the key to the browser. */
export function installShortcuts(handlers) {
  document.addEventListener("keydown", (event) => {
    const ctrl = event.ctrlKey || event.metaKey;
    if (!ctrl || event.shiftKey) return;
    const shortcut = SHORTCUTS.find((s) => s.code === event.code && s.alt === event.altKey);
    const handler = shortcut && handlers[shortcut.action];
    if (!handler) return;
    event.preventDefault();
    handler();
  });
}

export function renderShortcutList(container) {
  container.replaceChildren(
    ...SHORTCUTS.map(({ keys, label }) =>
      h("div", { class: "shortcut" }, h("dt", {}, ...keys.split(" + ").flatMap((k, i) => [i ? " + " : null, h("kbd", { text: k })])), h("dd", { text: label })),
    ),
  );
}
