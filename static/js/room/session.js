// The meeting session: the protocol's life cycle on top of the signaling socket.
//   hello → join (display name, passcode; or resume_token after a reconnect) → waiting? → joined
// It keeps the Roster current from the server's deltas and re-emits the rest as events:
//   "phase" {phase, reason?, message?}  phases: idle, connecting, waiting, joined, reconnecting, ended
//   "joinerror" {code, message, field}    a join refused but the connection stays (wrong passcode, …)
//   "busy" {retryAfter}                   the server is shedding a join storm; join is sent again by itself
//   "moving" {message}                    a `joined` for another room is about to replace this one
//   "joined" {message, resumed, moved, rejoined}  full state (also after a resume or a move)
//   "left" {participant_id, reason}       someone left this room (also for each of a roster.batch)
//   "batch" (the roster.batch message)    several people entered or left at once (applied already)
//   "signal", "chat", "reaction", "muted", "mediastate", "error", "hello", "breakouts",
//   "breakouts.overview", "broadcast", "help.requested"  (detail: the message)
//
// Moves (docs/protocol.md, "Rooms and breakout rooms"): the server sends a new `joined` on the
// same socket when this participant goes to another room; it has no resume token (the one we
// have still resumes). The room we are in is kept in sessionStorage, so that a reload of the
// page knows it is the same participant coming back (`rejoined`) and that, inside a breakout
// room, the page does not say `leave` when it goes away (the reload comes back into the room).

import { Signaling, socketUrl } from "./signaling.js";

export const PROTOCOL_VERSION = 1;

const REFUSALS = {
  not_found: "There is no meeting with this code.",
  sign_in_required: "This meeting is for signed-in people. Sign in to join.",
  meeting_ended: "This meeting has ended.",
  banned: "You can't join this meeting.",
  locked: "This meeting is locked. Ask a host to unlock it.",
  meeting_full: "This meeting is full.",
  wrong_passcode: "Too many wrong passcodes.",
};
const ENDINGS = {
  left: ["You left the meeting", ""],
  ended: ["The meeting has ended", "A host ended the meeting for everyone."],
  removed: ["You have been removed from the meeting", "A host removed you from the meeting."],
  banned: ["You have been removed from the meeting", "A host removed you and you can't rejoin this meeting."],
  denied: ["You can't join this meeting", "A host did not let you in."],
  replaced: ["You joined from another window", "This meeting is open in another tab or window."],
  version: ["This page is out of date", "Reload the page to join the meeting."],
  refused: ["You can't join this meeting", ""],
  lost: ["Connection lost", "The connection to the meeting was closed."],
};
// Errors that belong to the join attempt (shown on the prejoin screen).
const JOIN_ERRORS = new Set(["wrong_passcode", "invalid", "already_joined"]);
// Passed on as they come (detail: the message).
const PASSED_ON = new Set(["media.answer", "media.slots", "media.failed", "speaker", "muted", "breakouts", "breakouts.overview", "broadcast", "help.requested"]);

/** Who this tab was in this meeting, kept across reloads: {participantId}. */
function rememberedPresence(code) {
  try {
    return JSON.parse(sessionStorage.getItem(`conference.presence.${code}`)) || null;
  } catch {
    return null;
  }
}

function rememberPresence(code, presence) {
  try {
    sessionStorage.setItem(`conference.presence.${code}`, JSON.stringify(presence));
  } catch {
    // storage unavailable: a reload then looks like a new participant
  }
}

export class MeetingSession extends EventTarget {
  constructor(config, roster) {
    super();
    this.config = config;
    this.roster = roster;
    this.signaling = new Signaling(socketUrl(config.ws_url));
    this.phase = "idle";
    this.hello = null;
    this.joinFields = null; // {display_name?, passcode?}
    this.resumeToken = null;
    this.resuming = false;
    this.ending = null; // why the server is about to close: {reason, message}
    this.lastError = null;
    this.leaving = false;
    this.room = null; // the room we are in ({id, kind, name, position}), from `joined`
    this.previous = rememberedPresence(config.code); // this tab's participant before a reload

    this.signaling.addEventListener("message", (event) => this.onMessage(event.detail));
    this.signaling.addEventListener("close", (event) => this.onClose(event.detail));
    this.signaling.addEventListener("reconnecting", () => {
      if (this.phase === "joined" || this.phase === "reconnecting") this.setPhase("reconnecting");
    });
    window.addEventListener("pagehide", () => {
      // Inside a breakout room a reload must come back into it: no `leave` there (closing the
      // tab ends the stay after the server's grace period instead).
      if (this.room?.kind === "breakout" && this.phase === "joined") return;
      if (this.phase === "joined" || this.phase === "waiting") this.signaling.send("leave");
    });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setPhase(phase, extra = {}) {
    this.phase = phase;
    this.emit("phase", { phase, ...extra });
  }

  get joined() {
    return this.phase === "joined";
  }

  /** Ask to join (again, after a wrong passcode) with these fields. */
  join({ displayName = "", passcode = "" } = {}) {
    this.joinFields = {};
    if (displayName) this.joinFields.display_name = displayName;
    if (passcode) this.joinFields.passcode = passcode;
    if (this.signaling.connected && this.hello) {
      this.sendJoin();
    } else if (!this.signaling.ws) {
      this.setPhase("connecting");
      this.signaling.connect();
    }
  }

  sendJoin() {
    // With a resume token the server restores the same participant; when the token has expired
    // it falls back to an ordinary join with the same name and passcode.
    this.resuming = Boolean(this.resumeToken);
    const fields = { ...this.joinFields };
    if (this.resumeToken) fields.resume_token = this.resumeToken;
    this.signaling.send("join", fields);
  }

  send(type, fields = {}) {
    return this.signaling.send(type, fields);
  }

  leave() {
    if (this.phase === "ended") return;
    this.leaving = true;
    this.ending = { reason: "left" };
    this.signaling.send("leave");
    // The server closes with 1000; do not wait for it longer than a moment.
    setTimeout(() => this.signaling.close(), 1500);
    this.finish("left");
  }

  finish(reason, message = "") {
    if (this.phase === "ended") return;
    const [title, defaultMessage] = ENDINGS[reason] || ENDINGS.lost;
    this.setPhase("ended", { reason, title, message: message || defaultMessage });
  }

  onMessage(message) {
    this.roster.noteCount(message); // the room's exact count, from roster events and joined
    switch (message.type) {
      case "hello":
        this.hello = message;
        if (message.protocol !== PROTOCOL_VERSION) {
          this.signaling.close();
          this.finish("version");
          return;
        }
        this.emit("hello", message);
        if (this.resumeToken || this.joinFields) this.sendJoin();
        break;
      case "waiting":
        this.setPhase("waiting");
        break;
      case "joined":
        this.onJoined(message);
        break;
      case "roster.joined":
        this.roster.upsert(message.participant);
        break;
      case "roster.updated":
        this.roster.upsert(message.participant);
        break;
      case "roster.left":
        this.emit("left", message);
        this.roster.remove(message.participant_id);
        break;
      case "roster.batch": {
        // A busy room's changes come in batches (docs/protocol.md): a notice per person only
        // for a few; the roster shows the rest.
        const leftIds = message.left || [];
        if (leftIds.length <= 3) {
          for (const id of leftIds) this.emit("left", { participant_id: id, reason: message.reason });
        }
        this.roster.applyBatch([...(message.joined || []), ...(message.updated || [])], leftIds);
        this.emit("batch", message);
        break;
      }
      case "media.state":
        this.roster.setMedia(message.participant_id, message);
        this.emit("mediastate", message);
        break;
      case "hand":
        this.roster.setHands(message.hands || []);
        this.emit("hand", message);
        break;
      case "waiting.list":
        this.roster.setWaiting(message.waiting || []);
        break;
      case "waiting.changed":
        this.roster.changeWaiting(message.joined || [], message.left || []);
        break;
      case "recording":
        this.roster.setRecording(message.active);
        this.emit("recording", message);
        break;
      case "meeting.locked":
        this.roster.setLocked(message.locked);
        this.emit("locked", message);
        break;
      case "chat.message":
        this.emit("chat", message);
        break;
      case "reaction":
        this.emit("reaction", message);
        break;
      case "signal":
        this.emit("signal", message);
        break;
      case "media.topology":
        this.emit("topology", message);
        break;
      case "removed":
        this.ending = { reason: message.reason in ENDINGS ? message.reason : "removed" };
        break;
      case "meeting.ended":
        this.ending = { reason: "ended" };
        break;
      case "error":
        this.onError(message);
        break;
      case "pong":
        break;
      default:
        if (PASSED_ON.has(message.type)) this.emit(message.type, message);
        else console.debug("session: ignoring", message.type);
    }
  }

  onJoined(message) {
    const same = this.roster.selfId === message.you.id;
    const resumed = this.resuming && same;
    // Another room on the same connection (or found there after a reconnect).
    const moved = same && this.room !== null && message.room?.id !== this.room.id;
    // A reloaded page: the others still hold connections to this participant's previous page.
    const rejoined = !same && this.previous?.participantId === message.you.id;
    this.resuming = false;
    this.previous = null;
    if (message.resume_token) this.resumeToken = message.resume_token;
    if (moved) this.emit("moving", { message });
    this.room = message.room || null;
    rememberPresence(this.config.code, { participantId: message.you.id });
    this.roster.reset(message);
    this.setPhase("joined");
    this.emit("joined", { message, resumed, moved, rejoined });
  }

  onError(message) {
    this.lastError = message;
    if (message.code === "replaced") return; // the close (4409) that follows says it all
    if (message.code === "busy" && !this.joined) {
      // The server sheds a join storm: ask again after retry_after, spread by jitter so that
      // everyone told "busy" at once does not come back at once (rooms/admission.py).
      const seconds = Number(message.retry_after) || 1;
      clearTimeout(this.busyRetry);
      this.busyRetry = setTimeout(() => {
        if (!this.joined && this.signaling.connected) this.sendJoin();
      }, seconds * (0.5 + Math.random()) * 1000);
      this.emit("busy", { retryAfter: seconds });
      return;
    }
    if (this.resuming) this.resumeToken = null;
    if (!this.joined && this.phase !== "waiting" && JOIN_ERRORS.has(message.code)) {
      this.emit("joinerror", message);
      return;
    }
    if (message.code in REFUSALS) {
      this.ending = { reason: "refused", message: REFUSALS[message.code] };
      return;
    }
    this.emit("error", message);
  }

  onClose({ code, final }) {
    if (this.phase === "ended") return;
    if (!final) {
      // Reconnect with resume_token (hello → join) is automatic; until then we are "reconnecting".
      if (this.phase === "joined") this.setPhase("reconnecting");
      return;
    }
    if (this.ending) {
      this.finish(this.ending.reason, this.ending.message);
    } else if (code === 4409) {
      this.finish("replaced");
    } else if (code === 4404) {
      this.finish("refused", REFUSALS.not_found);
    } else if (code === 1000 && this.leaving) {
      this.finish("left");
    } else if (code === 1000) {
      this.finish("ended");
    } else {
      this.finish("lost", this.lastError?.message || "");
    }
  }
}
