// A long list of fixed-height rows of which only those in view (and a few either side) exist
// in the DOM: the list element gets the height of all rows, each row sits at its own offset.
// The scrolling element may hold more than the list (other sections above it). When the items
// change, the first row in view stays where it was, also when people above it come or go.
// A row is built again only when its signature changes; the row holding the focus stays in
// the DOM while it scrolls out of view, so a keyboard user's place is not lost.

import { perFrame } from "./frames.js";

export class VirtualList {
  /** renderRow(item) → element; keyOf(item) → string; signatureOf(item) → string. */
  constructor({ list, scroller, rowHeight, overscan = 6, renderRow, keyOf, signatureOf }) {
    this.list = list;
    this.scroller = scroller;
    this.rowHeight = rowHeight;
    this.overscan = overscan;
    this.renderRow = renderRow;
    this.keyOf = keyOf;
    this.signatureOf = signatureOf;
    this.items = [];
    this.indexOf = new Map(); // key → index in items
    this.rows = new Map(); // key → {el, signature}
    this.anchor = null; // {key, index}: the first row in view at the last render
    this.itemsChanged = false;
    list.classList.add("virtual-list");
    list.style.setProperty("--row-h", `${rowHeight}px`);
    this.scheduled = perFrame(() => this.render());
    scroller.addEventListener("scroll", () => this.scheduled(), { passive: true });
    new ResizeObserver(() => this.scheduled()).observe(scroller);
  }

  /** New items (shown at once: call it from a frame, not per network message). */
  setItems(items) {
    this.items = items;
    this.indexOf = new Map(items.map((item, index) => [this.keyOf(item), index]));
    this.itemsChanged = true;
    this.render();
  }

  /** Where the list starts inside the scrolling element's content, and the visible span. */
  viewport() {
    const top = this.list.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top + this.scroller.scrollTop;
    // A hidden panel has no height; it still gets a screenful, for when it is shown.
    const height = this.scroller.clientHeight || this.rowHeight * 10;
    return { from: this.scroller.scrollTop - top, height };
  }

  /** Keeps the first row that was in view in place after the items changed. */
  keepAnchor(from) {
    if (!this.itemsChanged || !this.anchor || from <= 0) return from;
    const index = this.indexOf.get(this.anchor.key);
    if (index === undefined || index === this.anchor.index) return from;
    const shift = (index - this.anchor.index) * this.rowHeight;
    this.scroller.scrollTop += shift;
    return from + shift;
  }

  render() {
    this.scheduled.cancel();
    const count = this.items.length;
    this.list.style.height = `${count * this.rowHeight}px`;
    const viewport = this.viewport();
    const from = this.keepAnchor(viewport.from);
    this.itemsChanged = false;
    const firstInView = Math.max(0, Math.floor(from / this.rowHeight));
    const first = Math.max(0, firstInView - this.overscan);
    const last = Math.min(count, Math.ceil((from + viewport.height) / this.rowHeight) + this.overscan);
    this.anchor = firstInView < count ? { key: this.keyOf(this.items[firstInView]), index: firstInView } : null;

    const wanted = [];
    for (let index = first; index < last; index += 1) wanted.push(index);
    const focused = this.focusedIndex();
    if (focused !== null && (focused < first || focused >= last)) wanted.push(focused);
    wanted.sort((a, b) => a - b);
    const keep = new Set(wanted.map((index) => this.keyOf(this.items[index])));
    for (const [key, row] of this.rows) {
      if (!keep.has(key)) {
        row.el.remove();
        this.rows.delete(key);
      }
    }
    wanted.forEach((index, position) => {
      const el = this.rowFor(this.items[index]);
      el.style.top = `${index * this.rowHeight}px`;
      el.setAttribute("aria-posinset", String(index + 1));
      el.setAttribute("aria-setsize", String(count));
      if (this.list.children[position] !== el) this.list.insertBefore(el, this.list.children[position] || null);
    });
  }

  rowFor(item) {
    const key = this.keyOf(item);
    const signature = this.signatureOf(item);
    const row = this.rows.get(key);
    if (row && row.signature === signature) return row.el;
    const el = this.renderRow(item);
    el.classList.add("virtual-row");
    if (row) row.el.replaceWith(el);
    this.rows.set(key, { el, signature });
    return el;
  }

  /** The index of the item whose row holds the focus, if any. */
  focusedIndex() {
    const active = document.activeElement;
    if (!active || !this.list.contains(active)) return null;
    for (const [key, row] of this.rows) {
      if (row.el.contains(active)) return this.indexOf.get(key) ?? null;
    }
    return null;
  }
}
