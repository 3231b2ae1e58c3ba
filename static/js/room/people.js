// The participants panel: who is here (mic, hand, role), the raised hands in order, the
// waiting room, and the host controls (admit / deny, mute, mute all, remove, remove and ban,
// make co-host, lower a hand, lock / unlock). Every control has an accessible name that names
// the person it acts on ("Mute Ada", "Admit Grace", "More actions for Ada").
//
// A room of 1,000: the list of people is virtual (virtual-list.js: only the rows in view are in
// the DOM), a search box narrows it by name, the count is the room's exact one (roster.total),
// and roster changes re-render at most once per animation frame (frames.js).

import { h, hueFor, initials, openMenuFor } from "./ui.js";
import { icon } from "./icons.js";
import { perFrame } from "./frames.js";
import { VirtualList } from "./virtual-list.js";

const ROLE_NAMES = { host: "Meeting host", cohost: "Co-host" };
const ROW_HEIGHT = 56; // px, every row of the list (the "Big rooms" section of room.css)

function avatar(participant) {
  const el = h("span", { class: "avatar-circle", "aria-hidden": "true", text: initials(participant.name) });
  el.style.setProperty("--hue", String(hueFor(participant.id)));
  return el;
}

/** What a person's row shows: it is built again when this changes. */
function rowSignature(participant, roster) {
  const { name, role, audio, video, screen, hand, guest } = participant;
  return JSON.stringify([name, role, audio, video, screen, Boolean(hand), guest, roster.isHost, roster.selfId]);
}

export class PeoplePanel {
  constructor({ root, roster, session }) {
    this.root = root;
    this.roster = roster;
    this.session = session;
    this.hostTools = root.querySelector("[data-part=host-tools]");
    this.waitingSection = root.querySelector("[data-part=waiting]");
    this.waitingList = root.querySelector("[data-part=waiting-list]");
    this.handsSection = root.querySelector("[data-part=hands]");
    this.handsList = root.querySelector("[data-part=hands-list]");
    this.list = root.querySelector("[data-part=people-list]");
    this.count = root.querySelector("[data-part=people-count]");
    this.lockButton = root.querySelector("[data-action=toggle-lock]");
    this.search = h("input", { type: "search", class: "people-search", placeholder: "Search for people", "aria-label": "Search for people", autocomplete: "off" });
    this.list.before(this.search);
    this.people = new VirtualList({
      list: this.list,
      scroller: root.querySelector(".panel-body") || this.list.parentElement,
      rowHeight: ROW_HEIGHT,
      renderRow: (participant) => this.row(participant, this.roster.isHost),
      keyOf: (participant) => participant.id,
      signatureOf: (participant) => rowSignature(participant, this.roster),
    });
    this.scheduled = perFrame(() => this.renderNow());

    root.querySelector("[data-action=mute-all]").addEventListener("click", () => session.send("host.mute_all"));
    root.querySelector("[data-action=admit-all]").addEventListener("click", () => session.send("host.admit_all"));
    this.lockButton.addEventListener("click", () => session.send(roster.locked ? "host.unlock" : "host.lock"));
    roster.addEventListener("change", () => this.render());
    roster.addEventListener("count", () => this.render());
    this.search.addEventListener("input", () => this.render());
  }

  /** Re-renders in the next frame (however many changes come before it). */
  render() {
    this.scheduled();
  }

  renderNow() {
    const isHost = this.roster.isHost;
    this.hostTools.hidden = !isHost;
    this.lockButton.textContent = this.roster.locked ? "Unlock meeting" : "Lock meeting";
    this.lockButton.setAttribute("aria-pressed", String(this.roster.locked));
    this.renderWaiting(isHost);
    this.renderHands(isHost);
    this.renderPeople();
  }

  renderWaiting(isHost) {
    const waiting = isHost ? this.roster.waiting : [];
    this.waitingSection.hidden = waiting.length === 0;
    this.waitingList.replaceChildren(
      ...waiting.map((person) =>
        h(
          "li",
          { class: "person", dataset: { participantId: person.id } },
          avatar(person),
          h("span", { class: "person-name", text: person.name }, person.guest ? h("span", { class: "person-role", text: "Guest" }) : null),
          h("button", { type: "button", class: "pill-button primary", "aria-label": `Admit ${person.name}`, text: "Admit", onclick: () => this.session.send("host.admit", { participant_id: person.id }) }),
          h("button", { type: "button", class: "pill-button", "aria-label": `Deny ${person.name}`, text: "Deny", onclick: () => this.session.send("host.deny", { participant_id: person.id }) }),
        ),
      ),
    );
  }

  renderHands(isHost) {
    const hands = this.roster.hands;
    this.handsSection.hidden = hands.length === 0;
    this.handsList.replaceChildren(
      ...hands.map((id) => {
        const name = this.roster.name(id);
        const mine = id === this.roster.selfId;
        return h(
          "li",
          { class: "hand-row", dataset: { participantId: id } },
          h("span", { class: "person-name", text: mine ? `${name} (You)` : name }),
          mine || isHost
            ? h("button", {
                type: "button",
                class: "pill-button",
                "aria-label": mine ? "Lower your hand" : `Lower ${name}'s hand`,
                text: "Lower",
                onclick: () => this.session.send("hand.lower", mine ? {} : { participant_id: id }),
              })
            : null,
        );
      }),
    );
  }

  renderPeople() {
    this.count.textContent = String(this.roster.total);
    const query = this.search.value.trim().toLocaleLowerCase();
    const people = this.roster.list();
    this.people.setItems(query ? people.filter((p) => String(p.name).toLocaleLowerCase().includes(query)) : people);
  }

  row(participant, isHost) {
    const { id, name, role } = participant;
    const isSelf = id === this.roster.selfId;
    const details = [isSelf ? "You" : null, ROLE_NAMES[role], participant.guest ? "Guest" : null, participant.screen ? "Presenting" : null].filter(Boolean);
    const controls = [];
    // A host sees a live microphone as the button that mutes it; everyone else sees its state.
    const canMute = isHost && !isSelf && participant.audio;
    const mic = canMute
      ? h("button", { type: "button", class: "icon-button small person-mic", "aria-label": `Mute ${name}`, title: `Mute ${name}`, onclick: () => this.session.send("host.mute", { participant_id: id }) }, icon("mic", { size: 20 }))
      : h(
          "span",
          { class: `person-mic${participant.audio ? "" : " off"}`, role: "img", "aria-label": `${name}: microphone ${participant.audio ? "on" : "off"}` },
          icon(participant.audio ? "mic" : "micOff", { size: 20 }),
        );
    if (isHost && !isSelf) {
      const more = h("button", { type: "button", class: "icon-button small", "aria-label": `More actions for ${name}`, "aria-haspopup": "menu", "aria-expanded": "false", title: "More actions" }, icon("more", { size: 20 }));
      more.addEventListener("click", () => openMenuFor(more, this.menuItems(participant)));
      controls.push(more);
    }
    return h(
      "li",
      { class: "person", dataset: { participantId: id } },
      avatar(participant),
      h("span", { class: "person-name" }, h("span", { text: name }), details.length ? h("span", { class: "person-role", text: details.join(" · ") }) : null),
      participant.hand ? h("span", { class: "person-hand", role: "img", "aria-label": `${name}: hand raised` }, icon("hand", { size: 20 })) : null,
      mic,
      controls,
    );
  }

  menuItems(participant) {
    const { id, name, role } = participant;
    const send = (type, fields = {}) => () => this.session.send(type, { participant_id: id, ...fields });
    const items = [];
    if (role === "attendee") items.push({ label: `Make ${name} a co-host`, onSelect: send("host.make_cohost") });
    if (participant.hand) items.push({ label: `Lower ${name}'s hand`, onSelect: send("hand.lower") });
    items.push({ label: `Remove ${name} from the meeting`, onSelect: send("host.remove", { ban: false }), danger: true });
    items.push({ label: `Remove and ban ${name}`, onSelect: send("host.remove", { ban: true }), danger: true });
    return items;
  }
}
