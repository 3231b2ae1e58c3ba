// The hosts' "Breakout rooms" panel: set rooms up (a number, or names), the settings (mode,
// return, duration, countdown), who goes where (a room per person; or automatically), open,
// close with the countdown or at once, broadcast to every room, and the live overview of who is
// where with the help requests; "Join" visits a room (breakout.visit). Every control names what
// it acts on ("Room for Grace", "Join Room 2").
//
// Assignments before the rooms open are not in `breakouts.overview` (only who has none), so the
// panel remembers the ones made here (until rooms are made anew or close); someone assigned
// elsewhere (by another host, or automatically) shows as "Assigned" until the rooms open and the
// overview says where they are.

import { $, h, toast } from "./ui.js";

const ASSIGNED_ELSEWHERE = "elsewhere";

export class BreakoutPanel {
  constructor({ root, model, session, roster, onShow }) {
    this.root = root;
    this.model = model;
    this.session = session;
    this.roster = roster;
    this.onShow = onShow; // opens this panel
    this.assigned = new Map(); // participant id → room id, as assigned from this page
    this.phase = null; // the breakout state last rendered
    this.parts = {};
    for (const el of root.querySelectorAll("[data-part]")) this.parts[el.dataset.part] = el;
    this.fields = {
      count: $("#breakout-count", root),
      names: $("#breakout-names", root),
      mode: $("#breakout-mode", root),
      allowReturn: $("#breakout-allow-return", root),
      duration: $("#breakout-duration", root),
      countdown: $("#breakout-countdown", root),
      broadcast: $("#breakout-broadcast-text", root),
    };
    this.wire();
    model.addEventListener("change", () => this.render());
    // Only who we are matters here (the overview says who is where): not every roster change.
    roster.addEventListener("change", ({ detail: { what } }) => ["all", "updated"].includes(what) && this.render());
    session.addEventListener("help.requested", ({ detail }) => this.announceHelp(detail));
    // A hidden panel is not rebuilt (in a big room each rebuild makes a row per person): it
    // catches up when it comes into view.
    this.stale = false;
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && this.stale) this.render();
    }).observe(root);
  }

  wire() {
    const { fields, session } = this;
    this.parts.create.addEventListener("submit", (event) => {
      event.preventDefault();
      const names = fields.names.value.split("\n").map((name) => name.trim()).filter(Boolean);
      const count = Number.parseInt(fields.count.value, 10);
      this.assigned.clear(); // new rooms: the assignments to the old ones go
      session.send("breakout.create", names.length ? { names } : { count: Number.isFinite(count) ? count : 1 });
    });
    fields.mode.addEventListener("change", () => session.send("breakout.settings", { mode: fields.mode.value }));
    fields.allowReturn.addEventListener("change", () => session.send("breakout.settings", { allow_return: fields.allowReturn.checked }));
    fields.duration.addEventListener("change", () => {
      const minutes = Number.parseInt(fields.duration.value, 10);
      session.send("breakout.settings", { duration_minutes: Number.isFinite(minutes) && minutes > 0 ? minutes : null });
    });
    fields.countdown.addEventListener("change", () => {
      const seconds = Number.parseInt(fields.countdown.value, 10);
      if (Number.isFinite(seconds)) session.send("breakout.settings", { countdown_seconds: Math.min(300, Math.max(0, seconds)) });
    });
    const actions = {
      "auto-assign": () => session.send("breakout.auto_assign"),
      "open-breakouts": () => session.send("breakout.open"),
      "close-breakouts": () => session.send("breakout.close", { now: false }),
      "close-breakouts-now": () => session.send("breakout.close", { now: true }),
    };
    for (const [action, run] of Object.entries(actions)) $(`[data-action=${action}]`, this.root).addEventListener("click", run);
    this.parts.broadcast.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = fields.broadcast.value.trim().slice(0, 500);
      if (text && session.send("breakout.broadcast", { text })) fields.broadcast.value = "";
    });
  }

  render() {
    if (this.root.offsetParent === null) {
      this.stale = true;
      return;
    }
    this.stale = false;
    const { state } = this.model;
    const phase = state.state;
    const open = this.model.open;
    // Closing (or new rooms) ends every assignment; while open, the overview says where people are.
    if (phase !== this.phase && phase !== "ready") this.assigned.clear();
    this.phase = phase;
    const status = {
      none: "No breakout rooms yet. Create them, assign people, then open them.",
      ready: `${state.rooms.length} room${state.rooms.length === 1 ? " is" : "s are"} set up. Assign people, then open the rooms.`,
      open: "Breakout rooms are open.",
      closing: "Breakout rooms are closing: everyone comes back when the countdown ends.",
    }[phase];
    this.parts.status.textContent = status;
    this.parts.create.hidden = open;
    $("[data-action=auto-assign]", this.root).hidden = phase === "none" || phase === "closing";
    $("[data-action=open-breakouts]", this.root).hidden = phase !== "ready";
    $("[data-action=close-breakouts]", this.root).hidden = phase !== "open";
    $("[data-action=close-breakouts]", this.root).textContent = state.countdown_seconds ? `Close rooms (${state.countdown_seconds} s countdown)` : "Close rooms";
    $("[data-action=close-breakouts-now]", this.root).hidden = !open;
    this.parts.broadcast.hidden = !open;
    this.renderSettings(state);
    this.renderHelp(open);
    this.renderRooms(open);
  }

  renderSettings(state) {
    const { fields } = this;
    const idle = (el) => document.activeElement !== el; // never overwrite what is being typed
    if (idle(fields.mode)) fields.mode.value = state.mode;
    fields.allowReturn.checked = Boolean(state.allow_return);
    if (idle(fields.duration)) fields.duration.value = state.duration_minutes ? String(state.duration_minutes) : "";
    if (idle(fields.countdown)) fields.countdown.value = String(state.countdown_seconds ?? 60);
    const mode = fields.mode.selectedOptions[0]?.textContent.toLowerCase() || state.mode;
    const summary = [mode, state.allow_return ? "return allowed" : "no return", state.duration_minutes ? `${state.duration_minutes} min` : null, `${state.countdown_seconds} s countdown`];
    this.parts["settings-summary"].textContent = summary.filter(Boolean).join(", ");
  }

  /** Who is where: a group a room (with "Join" while open), then the main room, each person with
   * the room they go to. */
  renderRooms(open) {
    const overview = this.model.overview || { rooms: [], main: [], unassigned: [], help: [] };
    const rooms = this.model.state.rooms;
    const unassigned = new Set(overview.unassigned);
    const people = [...overview.main, ...overview.rooms.flatMap((room) => room.participants)];
    const roomOf = (person) => {
      if (open) return overview.rooms.find((room) => room.participants.some((p) => p.id === person.id))?.id ?? "";
      // Ours first: the overview may not have caught up with an assignment just sent.
      if (this.assigned.has(person.id)) return this.assigned.get(person.id);
      return unassigned.has(person.id) || person.role !== "attendee" ? "" : ASSIGNED_ELSEWHERE;
    };
    const groups = rooms.map((room) => ({ room, people: [] }));
    const rest = { room: null, people: [] };
    for (const person of people) {
      const where = roomOf(person);
      (groups.find((group) => group.room.id === where) || rest).people.push({ person, where });
    }
    const focused = document.activeElement?.id;
    this.parts.rooms.replaceChildren(...[...groups, rest].map((group) => this.roomGroup(group, rooms, open)));
    if (focused && document.getElementById(focused) && this.root.contains(document.getElementById(focused))) document.getElementById(focused).focus();
  }

  roomGroup({ room, people }, rooms, open) {
    const title = room ? room.name : open ? "Main room" : "Not assigned yet";
    const count = room && open ? (rooms.find((r) => r.id === room.id)?.count ?? people.length) : people.length;
    const here = room && this.model.room?.id === room.id;
    return h(
      "section",
      { class: "breakout-group", "aria-label": title, dataset: room ? { roomId: String(room.id) } : null },
      h(
        "div",
        { class: "section-header" },
        h("h3", { text: `${title} (${count})` }),
        room && open && !here ? h("button", { type: "button", class: "pill-button", "aria-label": `Join ${room.name}`, text: "Join", onclick: () => this.visit(room.id) }) : null,
        here ? h("span", { class: "person-role", text: "You are here" }) : null,
      ),
      h("ul", { class: "people-list" }, people.map(({ person, where }) => this.personRow(person, where, rooms, open))),
    );
  }

  personRow(person, where, rooms, open) {
    const isSelf = person.id === this.roster.selfId;
    const label = isSelf ? `${person.name} (You)` : person.name;
    const select = h(
      "select",
      { id: `breakout-room-for-${person.id}`, class: "breakout-select", "aria-label": `Room for ${person.name}` },
      h("option", { value: "", text: open ? "Main room" : "Not assigned" }),
      where === ASSIGNED_ELSEWHERE ? h("option", { value: ASSIGNED_ELSEWHERE, text: "Assigned", disabled: true }) : null,
      rooms.map((room) => h("option", { value: String(room.id), text: room.name })),
    );
    select.value = String(where);
    select.addEventListener("change", () => this.assign(person.id, select.value));
    return h(
      "li",
      { class: "person", dataset: { participantId: person.id } },
      h("span", { class: "person-name", text: label }),
      isSelf ? null : select,
    );
  }

  assign(participantId, value) {
    const roomId = value ? Number(value) : null;
    if (roomId === null) this.assigned.delete(participantId);
    else this.assigned.set(participantId, roomId);
    this.session.send("breakout.assign", { assignments: { [participantId]: roomId } });
    this.render();
  }

  visit(roomId) {
    this.session.send("breakout.visit", { room_id: roomId });
  }

  renderHelp(open) {
    const help = open ? this.model.overview?.help || [] : [];
    this.parts.help.hidden = help.length === 0;
    this.parts["help-list"].replaceChildren(
      ...help.map((request) => {
        const room = this.model.roomName(request.room_id);
        return h(
          "li",
          { class: "person" },
          h("span", { class: "person-name", text: `${request.name} asks for help in ${room}` }),
          this.model.room?.id === request.room_id
            ? null
            : h("button", { type: "button", class: "pill-button primary", "aria-label": `Join ${room} to help ${request.name}`, text: "Join room", onclick: () => this.visit(request.room_id) }),
        );
      }),
    );
  }

  /** `help.requested` (hosts): a notice that stays a while, with "Join room". */
  announceHelp(request) {
    toast(`${request.name} asks for help in ${request.room_name}`, {
      timeout: 30_000,
      actions: [
        { label: "Join room", onClick: () => this.visit(request.room_id) },
        { label: "Show rooms", onClick: () => this.onShow() },
      ],
    });
  }
}
