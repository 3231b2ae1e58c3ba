// The gallery's page controls: "Previous page of videos", "Page 2 of 40", "Next page of
// videos". Hidden while everyone fits on one page.

import { h } from "./ui.js";

export class PageControls {
  /** onChange(page): the page (0-based) the user turned to. */
  constructor(onChange) {
    this.page = 0;
    this.count = 1;
    this.previous = h("button", { type: "button", class: "icon-button small", "aria-label": "Previous page of videos", title: "Previous page", text: "‹", onclick: () => this.turn(-1) });
    this.next = h("button", { type: "button", class: "icon-button small", "aria-label": "Next page of videos", title: "Next page", text: "›", onclick: () => this.turn(1) });
    this.label = h("span", { class: "gallery-pages-label", "aria-live": "polite" });
    this.el = h("nav", { class: "gallery-pages", "aria-label": "Pages of videos", hidden: true }, this.previous, this.label, this.next);
    this.onChange = onChange;
  }

  turn(step) {
    const page = Math.min(this.count - 1, Math.max(0, this.page + step));
    if (page === this.page) return;
    this.page = page;
    this.onChange(page);
  }

  show(page, count) {
    this.page = page;
    this.count = count;
    this.el.hidden = count <= 1;
    this.label.textContent = `Page ${page + 1} of ${count}`;
    this.previous.disabled = page === 0;
    this.next.disabled = page >= count - 1;
  }
}
