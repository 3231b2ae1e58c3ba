// The chat panel: history and new messages, to everyone or privately to one person.
// Message text is put in the page with textContent only; http(s) URLs become links built with
// createElement("a") (rel="noopener noreferrer", new tab), never markup.

import { formatTime, h } from "./ui.js";

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}'"]+$/;
const MAX_MESSAGES = 500;

/** A DocumentFragment of text nodes and <a> elements for the URLs in `text`. */
export function linkify(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let candidate = match[0];
    const trailing = candidate.match(TRAILING_PUNCTUATION);
    if (trailing) candidate = candidate.slice(0, -trailing[0].length);
    let url = null;
    try {
      url = new URL(candidate);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    fragment.append(text.slice(last, match.index));
    const link = document.createElement("a");
    link.href = url.href;
    link.textContent = candidate;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    fragment.append(link);
    last = match.index + candidate.length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

export class ChatPanel extends EventTarget {
  constructor({ list, form, input, recipient, roster, session }) {
    super();
    this.list = list;
    this.form = form;
    this.input = input;
    this.recipient = recipient;
    this.roster = roster;
    this.session = session;
    this.seen = new Set();
    this.names = new Map(); // remember names of people who left

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendCurrent();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.sendCurrent();
      }
    });
    roster.addEventListener("change", (event) => {
      if (["all", "joined", "left", "updated", "batch"].includes(event.detail.what)) this.renderRecipients();
    });
  }

  sendCurrent() {
    const text = this.input.value.trim();
    if (!text) return;
    const fields = { text: text.slice(0, 2000) };
    if (this.recipient.value) fields.to = this.recipient.value;
    if (this.session.send("chat.send", fields)) {
      this.input.value = "";
    } else {
      this.dispatchEvent(new CustomEvent("notsent"));
    }
  }

  renderRecipients() {
    const current = this.recipient.value;
    const options = [h("option", { value: "", text: "Everyone" })];
    for (const participant of this.roster.others()) {
      this.names.set(participant.id, participant.name);
      options.push(h("option", { value: participant.id, text: participant.name }));
    }
    this.recipient.replaceChildren(...options);
    this.recipient.value = options.some((o) => o.value === current) ? current : "";
  }

  setHistory(messages) {
    for (const message of messages) this.add(message, { quiet: true });
  }

  /** Another room's chat in place of this one's (after a move). */
  replaceHistory(messages) {
    this.list.replaceChildren();
    this.seen.clear();
    this.setHistory(messages);
  }

  /** A line from the meeting itself (a host's broadcast, a move), not from a participant. */
  addNotice(text) {
    this.list.append(h("li", { class: "chat-notice" }, h("p", { class: "chat-text", text })));
    while (this.list.children.length > MAX_MESSAGES) this.list.firstElementChild.remove();
    this.list.scrollTop = this.list.scrollHeight;
  }

  nameOf(id) {
    return this.roster.get(id)?.name || this.names.get(id) || "Someone";
  }

  add(message, { quiet = false } = {}) {
    if (message.id !== undefined && message.id !== null) {
      if (this.seen.has(message.id)) return;
      this.seen.add(message.id);
    }
    const fromSelf = message.from === this.roster.selfId;
    const isPrivate = Boolean(message.to);
    let privacy = null;
    if (isPrivate) {
      privacy = fromSelf ? `Privately to ${this.nameOf(message.to)}` : "Privately to you";
    }
    const item = h(
      "li",
      { class: `chat-message${fromSelf ? " self" : ""}${isPrivate ? " private" : ""}`, dataset: message.id != null ? { messageId: String(message.id) } : null },
      h(
        "div",
        { class: "chat-meta" },
        h("span", { class: "chat-from", text: fromSelf ? "You" : message.from_name || this.nameOf(message.from) }),
        h("time", { datetime: message.sent_at || null, text: formatTime(message.sent_at) }),
      ),
      privacy ? h("div", { class: "chat-private", text: privacy }) : null,
      h("p", { class: "chat-text" }, linkify(String(message.text || ""))),
    );
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.append(item);
    while (this.list.children.length > MAX_MESSAGES) this.list.firstElementChild.remove();
    if (atBottom || fromSelf) this.list.scrollTop = this.list.scrollHeight;
    if (!quiet && !fromSelf) this.dispatchEvent(new CustomEvent("incoming", { detail: message }));
  }
}
