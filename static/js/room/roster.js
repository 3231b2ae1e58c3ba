// What the room looks like right now: participants, raised hands, the waiting room, the lock.
// Filled from `joined` (full state) and kept current with the deltas; views listen to "change"
// (detail: {what}) and read from here. `total` is the exact number of people in the room (the
// server's `count`, also while the roster is still arriving in chunks); "count" is dispatched
// when only that number changed.

export const HOST_ROLES = new Set(["host", "cohost"]);

export class Roster extends EventTarget {
  constructor() {
    super();
    this.selfId = null;
    this.participants = new Map();
    this.sorted = null; // list(), until the next change
    this.count = null; // the room's count from the server, when it said
    this.hands = [];
    this.waiting = [];
    this.locked = false;
    this.recording = false;
    this.muteOnEntry = false;
    this.title = "";
  }

  changed(what) {
    this.sorted = null;
    this.dispatchEvent(new CustomEvent("change", { detail: { what } }));
  }

  reset({ you, roster = [], hands = [], meeting = {}, recording = {}, roster_total: total = null }) {
    this.selfId = you.id;
    this.count = Number.isInteger(total) ? total : null;
    this.participants = new Map();
    for (const participant of roster) this.participants.set(participant.id, { ...participant });
    this.participants.set(you.id, { ...this.participants.get(you.id), ...you });
    this.hands = hands.filter((id) => this.participants.has(id));
    this.locked = Boolean(meeting.locked);
    this.recording = Boolean(recording.active);
    this.muteOnEntry = Boolean(meeting.mute_on_entry);
    this.title = meeting.title || this.title;
    this.changed("all");
  }

  get self() {
    return this.participants.get(this.selfId) || null;
  }

  /** How many people are in the room: exact, even when the roster here is not complete. */
  get total() {
    return this.count ?? this.participants.size;
  }

  /** A server message: keeps the room's count (`count` of roster.joined / left / batch). */
  noteCount(message) {
    if (!String(message?.type).startsWith("roster.") || !Number.isInteger(message.count)) return;
    if (message.count === this.count) return;
    this.count = message.count;
    this.dispatchEvent(new CustomEvent("count", { detail: { count: this.count } }));
  }

  get isHost() {
    return HOST_ROLES.has(this.self?.role);
  }

  get(id) {
    return this.participants.get(id) || null;
  }

  name(id) {
    return this.participants.get(id)?.name || "Someone";
  }

  /** Everyone, you first, then in the order they joined. */
  list() {
    this.sorted ||= Array.from(this.participants.values()).sort((a, b) => {
      if (a.id === this.selfId) return -1;
      if (b.id === this.selfId) return 1;
      return String(a.joined_at || "").localeCompare(String(b.joined_at || "")) || a.id.localeCompare(b.id);
    });
    return this.sorted.slice();
  }

  others() {
    return this.list().filter((p) => p.id !== this.selfId);
  }

  upsert(participant) {
    const before = this.participants.get(participant.id);
    this.participants.set(participant.id, { ...before, ...participant });
    this.changed(before ? "updated" : "joined");
  }

  /** A `roster.batch`: these people entered and those left at once (one "batch" change). */
  applyBatch(joined, leftIds) {
    for (const participant of joined) {
      this.participants.set(participant.id, { ...this.participants.get(participant.id), ...participant });
    }
    for (const id of leftIds) {
      if (id !== this.selfId) this.participants.delete(id);
    }
    this.hands = this.hands.filter((h) => this.participants.has(h));
    this.changed("batch");
  }

  remove(id) {
    if (!this.participants.delete(id)) return;
    this.hands = this.hands.filter((h) => h !== id);
    this.changed("left");
  }

  setMedia(id, { audio, video, screen }) {
    const participant = this.participants.get(id);
    if (!participant) return;
    Object.assign(participant, { audio: Boolean(audio), video: Boolean(video), screen: Boolean(screen) });
    this.changed("media");
  }

  setHands(ids) {
    this.hands = ids.filter((id) => this.participants.has(id));
    const now = new Date().toISOString();
    for (const participant of this.participants.values()) {
      const raised = this.hands.includes(participant.id);
      participant.hand = raised ? participant.hand || now : null;
    }
    this.changed("hands");
  }

  setWaiting(list) {
    this.waiting = list;
    this.changed("waiting");
  }

  // A delta of the waiting room (waiting.changed): who came, who went (admitted, denied, gone).
  changeWaiting(joined, leftIds) {
    const gone = new Set([...leftIds, ...joined.map((p) => p.id)]);
    this.waiting = [...this.waiting.filter((p) => !gone.has(p.id)), ...joined];
    this.changed("waiting");
  }

  setRecording(active) {
    this.recording = Boolean(active);
    this.changed("recording");
  }

  setLocked(locked) {
    this.locked = Boolean(locked);
    this.changed("locked");
  }
}
