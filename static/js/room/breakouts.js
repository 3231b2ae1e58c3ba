// Breakout rooms as everyone sees them (docs/protocol.md, "Rooms and breakout rooms"): the room
// you are in (top bar), the time left and the closing countdown, the hosts' broadcasts, and your
// own moves: pick a room (mode "choose"), go back to the main room (when allowed; hosts always),
// ask the hosts for help. The hosts' panel is breakout-panel.js; both read a BreakoutModel.
//
// Moving itself (a new `joined`: new media, roster and chat) is main.js's business.

import { $, h, toast } from "./ui.js";

const NO_BREAKOUTS = { state: "none", mode: "manual", allow_return: true, countdown_seconds: 60, duration_minutes: null, opened_at: null, ends_at: null, closing_at: null, rooms: [] };
const BROADCAST_SHOWN_MS = 15_000;

/** "4:05" for 245 seconds (never negative). */
function clockText(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function secondsUntil(iso) {
  return iso ? (new Date(iso).getTime() - Date.now()) / 1000 : null;
}

/** The breakout state of the meeting and the room this page is in; "change" on every update. */
export class BreakoutModel extends EventTarget {
  constructor(session) {
    super();
    this.room = null; // {id, kind, name, position}
    this.state = NO_BREAKOUTS;
    this.overview = null; // hosts only: the last `breakouts.overview`
    session.addEventListener("joined", ({ detail: { message } }) => {
      this.room = message.room || null;
      if (message.breakouts) this.state = message.breakouts;
      this.changed();
    });
    session.addEventListener("breakouts", ({ detail }) => {
      this.state = { ...detail, assigned_room: this.state.assigned_room };
      this.changed();
    });
    session.addEventListener("breakouts.overview", ({ detail }) => {
      this.overview = detail;
      this.changed();
    });
  }

  changed() {
    this.dispatchEvent(new CustomEvent("change"));
  }

  get inBreakout() {
    return this.room?.kind === "breakout";
  }

  /** Rooms open (or closing): people are in them. */
  get open() {
    return this.state.state === "open" || this.state.state === "closing";
  }

  roomName(id) {
    return this.state.rooms.find((room) => room.id === id)?.name || (this.room?.id === id ? this.room.name : "a breakout room");
  }

  /** Seconds until the rooms close ("closing"), or until an open session's duration is up. */
  secondsLeft() {
    if (this.state.state === "closing") return secondsUntil(this.state.closing_at);
    if (this.state.state === "open") return secondsUntil(this.state.ends_at);
    return null;
  }
}

/** The top bar, the countdown banner, broadcasts and the "choose a room" dialog. */
export class BreakoutStatus {
  constructor({ model, session, roster, chat }) {
    this.model = model;
    this.session = session;
    this.roster = roster;
    this.chat = chat;
    this.bar = $("#room-bar");
    this.indicator = $("#room-indicator");
    this.timer = $("#breakout-timer");
    this.banner = $("#breakout-banner");
    this.broadcastBanner = $("#broadcast-banner");
    this.chooser = $("#choose-room-dialog");
    this.buttons = {
      choose: $("[data-action=choose-room]"),
      help: $("[data-action=ask-help]"),
      back: $("[data-action=return-to-main]"),
    };
    this.wasOpen = false;
    this.ticker = null;

    this.buttons.choose.addEventListener("click", () => this.openChooser());
    this.buttons.back.addEventListener("click", () => session.send("breakout.return"));
    this.buttons.help.addEventListener("click", () => this.askForHelp());
    $("[data-action=dismiss-broadcast]").addEventListener("click", () => (this.broadcastBanner.hidden = true));
    model.addEventListener("change", () => this.render());
    roster.addEventListener("change", ({ detail: { what } }) => ["all", "updated"].includes(what) && this.render());
    session.addEventListener("joined", ({ detail }) => detail.moved && this.announceMove());
    session.addEventListener("broadcast", ({ detail }) => this.showBroadcast(detail));
  }

  render() {
    const { model } = this;
    const state = model.state;
    const isHost = this.roster.isHost;
    this.bar.hidden = state.state === "none" && !model.inBreakout;
    this.indicator.querySelector("[data-part=room-name]").textContent = model.room?.name || "Main room";
    this.indicator.classList.toggle("breakout", model.inBreakout);
    this.buttons.back.hidden = !model.inBreakout || !(state.allow_return || isHost);
    this.buttons.help.hidden = !model.inBreakout || isHost;
    this.buttons.choose.hidden = !(state.state === "open" && state.mode === "choose" && !isHost);
    if (this.chooser.open) this.renderChooser();
    if (state.state === "open" && !this.wasOpen && state.mode === "choose" && !isHost && !model.inBreakout) {
      toast("Breakout rooms are open. Choose a room to join.", { timeout: 10_000, actions: [{ label: "Choose a room", onClick: () => this.openChooser() }] });
    }
    this.wasOpen = model.open;
    this.tick();
    clearInterval(this.ticker);
    this.ticker = model.secondsLeft() !== null ? setInterval(() => this.tick(), 1000) : null;
  }

  /** The time left in the top bar, and the closing countdown in the banner. */
  tick() {
    const left = this.model.secondsLeft();
    const closing = this.model.state.state === "closing";
    this.timer.hidden = left === null || closing;
    if (left !== null && !closing) this.timer.textContent = `${clockText(left)} left`;
    this.banner.hidden = !closing;
    if (closing) {
      const where = this.model.inBreakout ? " You'll go back to the main room." : "";
      this.banner.textContent = `Breakout rooms close in ${clockText(left)}.${where}`;
    }
  }

  announceMove() {
    const room = this.model.room;
    if (!room) return;
    toast(room.kind === "breakout" ? `You are now in ${room.name}` : "You are back in the main room", { timeout: 4000 });
  }

  askForHelp() {
    if (this.session.send("breakout.help")) {
      toast("The hosts have been asked to join this room.", { timeout: 5000 });
      this.chat.addNotice("You asked the hosts for help.");
    }
  }

  showBroadcast(message) {
    const from = message.from_name || "A host";
    this.broadcastBanner.querySelector("[data-part=from]").textContent = `${from} to everyone:`;
    this.broadcastBanner.querySelector("[data-part=text]").textContent = message.text;
    this.broadcastBanner.hidden = false;
    clearTimeout(this.broadcastTimer);
    this.broadcastTimer = setTimeout(() => (this.broadcastBanner.hidden = true), BROADCAST_SHOWN_MS);
    this.chat.addNotice(`${from} to everyone: ${message.text}`);
  }

  openChooser() {
    this.renderChooser();
    if (!this.chooser.open) this.chooser.showModal();
  }

  renderChooser() {
    const rooms = this.model.state.rooms;
    const here = this.model.room?.id;
    $("[data-part=room-choices]", this.chooser).replaceChildren(
      ...rooms.map((room) =>
        h(
          "li",
          { class: "room-choice" },
          h("span", { class: "room-choice-name", text: room.name }),
          h("span", { class: "muted", text: room.count === 1 ? "1 person" : `${room.count} people` }),
          room.id === here
            ? h("span", { class: "room-choice-here", text: "You are here" })
            : h("button", {
                type: "button",
                class: "pill-button primary",
                "aria-label": `Join ${room.name}`,
                text: "Join",
                onclick: () => {
                  this.chooser.close();
                  this.session.send("breakout.choose", { room_id: room.id });
                },
              }),
        ),
      ),
    );
  }
}
