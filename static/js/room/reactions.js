// Reactions: the fixed emoji set of the protocol, the picker buttons and the floating overlay.
// The server aggregates reactions per room (one `reaction` message {counts} per window), so a
// burst of a thousand claps draws a handful of floating emoji with a count.

import { h } from "./ui.js";

export const REACTIONS = [
  ["👍", "Thumbs up"],
  ["👏", "Clapping hands"],
  ["❤️", "Heart"],
  ["😂", "Laughing"],
  ["😮", "Surprised"],
  ["🎉", "Celebrate"],
];
const NAMES = new Map(REACTIONS);
const FLOAT_MS = 4000;
const MAX_FLOATS_PER_EMOJI = 5;

/** Fill `bar` with one button per reaction; `onReact(emoji)` is called on click. */
export function buildReactionBar(bar, onReact) {
  bar.replaceChildren(
    ...REACTIONS.map(([emoji, name]) =>
      h("button", { type: "button", class: "reaction-button", "aria-label": `Send ${name} reaction`, title: name, onclick: () => onReact(emoji) }, emoji),
    ),
  );
}

export class ReactionsOverlay {
  constructor(overlay) {
    this.overlay = overlay;
  }

  /** Show one `reaction` message: {counts: {emoji: n}}. */
  show(counts) {
    let delay = 0;
    for (const [emoji, count] of Object.entries(counts || {})) {
      if (!NAMES.has(emoji) || !(count > 0)) continue;
      const floats = Math.min(count, MAX_FLOATS_PER_EMOJI);
      for (let i = 0; i < floats; i += 1) {
        const last = i === floats - 1;
        this.spawn(emoji, last && count > 1 ? count : 0, delay);
        delay += 120;
      }
    }
  }

  spawn(emoji, count, delay) {
    const label = `${NAMES.get(emoji)} reaction${count ? ` ×${count}` : ""}`;
    const item = h(
      "span",
      { class: "reaction-float", role: "img", "aria-label": label },
      h("span", { class: "reaction-emoji", text: emoji }),
      count ? h("span", { class: "reaction-count", text: `×${count}` }) : null,
    );
    item.style.left = `${8 + Math.random() * 30}%`;
    item.style.animationDelay = `${delay}ms`;
    this.overlay.append(item);
    setTimeout(() => item.remove(), FLOAT_MS + delay + 200);
  }
}
