// Which of the others the gallery shows, one page at a time (no DOM here). The first page is
// "last-N": the most recent active speakers, then people with their camera on, then the rest
// in join order; the pages after it hold everyone else in that same order. The first page
// keeps its tiles in place: a new speaker takes the slot of the one who spoke longest ago,
// the others do not move.

/** a before b when a spoke more recently, then has video, then joined earlier. */
function compare(a, b) {
  return b.spokeAt - a.spokeAt || b.video - a.video || a.index - b.index;
}

export class LastN {
  constructor() {
    this.spokeAt = new Map(); // participant id → when last heard (performance.now())
    this.first = []; // ids on the first page, in their slots
    this.rank = new Map(); // participant id → place in the order, from the last pages()
  }

  /** These people were just heard; true when one of them is not on the first page. */
  heard(ids, now = performance.now()) {
    let outside = false;
    for (const id of ids) {
      this.spokeAt.set(id, now);
      if (!this.first.includes(id)) outside = true;
    }
    return outside;
  }

  /** `others`: participants in join order; `size`: tiles a page. Returns the pages of ids. */
  pages(others, size) {
    const ranked = others
      .map((p, index) => ({ id: p.id, spokeAt: this.spokeAt.get(p.id) || 0, video: p.video ? 1 : 0, index }))
      .sort(compare);
    this.rank = new Map(ranked.map((entry, index) => [entry.id, index]));
    for (const id of this.spokeAt.keys()) if (!this.rank.has(id)) this.spokeAt.delete(id);
    const top = ranked.slice(0, size).map((entry) => entry.id);
    this.first = this.keepSlots(top);
    const pages = [this.first];
    for (let start = size; start < ranked.length; start += size) {
      pages.push(ranked.slice(start, start + size).map((entry) => entry.id));
    }
    return pages;
  }

  /** `top` (the first page's people, best first) in the slots they had; newcomers fill the
   * slots of those who dropped out, then go at the end. */
  keepSlots(top) {
    const wanted = new Set(top);
    const slots = this.first.map((id) => (wanted.has(id) ? id : null));
    const placed = new Set(slots);
    const newcomers = top.filter((id) => !placed.has(id));
    for (let i = 0; i < slots.length && newcomers.length; i += 1) {
      if (slots[i] === null) slots[i] = newcomers.shift();
    }
    return [...slots.filter((id) => id !== null), ...newcomers];
  }

  /** `ids` in the order of the last pages(): the most relevant first. */
  byRank(ids) {
    const last = this.rank.size;
    return [...ids].sort((a, b) => (this.rank.get(a) ?? last) - (this.rank.get(b) ?? last));
  }
}
