// The meeting room page: composes the pieces and wires their events.
//   LocalMedia (media.js) ── tracks ──▶ transport (mesh.js, via transport.js) ◀── signal ── session
//   MeetingSession (session.js) ── Roster (roster.js) ──▶ views: tiles, people, chat, reactions
//   BreakoutModel (breakouts.js) ──▶ the room bar and banners (breakouts.js), the hosts' panel
//   (breakout-panel.js). A move to another room is a new `joined`: new transport, roster, chat.
// The page's configuration comes from the `room-config` JSON script the template emits.
// window.__room exposes the live objects for debugging and the browser tests
// (window.__room.transport.peers: Map of participant id → {pc: RTCPeerConnection}).

import { $, openMenuFor, toast } from "./ui.js";
import { icon } from "./icons.js";
import { LocalMedia } from "./media.js";
import { Roster } from "./roster.js";
import { MeetingSession } from "./session.js";
import { createTransport } from "./transport.js";
import { Prejoin } from "./prejoin.js";
import { DevicePickers } from "./devices.js";
import { TilesView } from "./tiles.js";
import { PeoplePanel } from "./people.js";
import { ChatPanel } from "./chat.js";
import { ReactionsOverlay, buildReactionBar } from "./reactions.js";
import { SpeakerDetector } from "./speakers.js";
import { QualityMonitor } from "./stats.js";
import { installShortcuts, renderShortcutList } from "./shortcuts.js";
import { BreakoutModel, BreakoutStatus } from "./breakouts.js";
import { BreakoutPanel } from "./breakout-panel.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const app = $("#room-app");
const call = $("#call");

const media = new LocalMedia();
const roster = new Roster();
const session = new MeetingSession(config, roster);
const breakouts = new BreakoutModel(session);
const speakers = new SpeakerDetector();
const quality = new QualityMonitor();
let transport = null;
let pendingTransport = null; // the next transport while the room moves to another topology
let layout = "gallery";
let lastSentState = null;
let unreadChat = 0;
let openPanel = null; // "people" | "chat" | "breakouts" | null
let knownWaiting = new Set();
let handsSeen = new Set();
const waitingToasts = new Map(); // waiting participant id → close()

window.__room = { config, media, roster, session, breakouts, speakers, quality, get transport() { return transport; } };

// --- Views ------------------------------------------------------------------------------------

const prejoin = new Prejoin({
  root: $("#prejoin"),
  media,
  config,
  onJoin: (fields) => session.join(fields),
  onCancel: () => session.leave(),
});
new DevicePickers({ root: $("#device-settings"), media });
const tiles = new TilesView({
  area: $("#video-area"),
  stage: $("#stage"),
  gallery: $("#gallery"),
  audioHost: $("#remote-audio"),
  roster,
  media,
  onLayout: () => sendView(),
});
const people = new PeoplePanel({ root: $("#people-panel"), roster, session });
const chat = new ChatPanel({
  list: $("#chat-messages"),
  form: $("#chat-form"),
  input: $("#chat-input"),
  recipient: $("#chat-to"),
  roster,
  session,
});
new BreakoutStatus({ model: breakouts, session, roster, chat });
new BreakoutPanel({
  root: $("#breakouts-panel"),
  model: breakouts,
  session,
  roster,
  onShow: () => openPanel !== "breakouts" && togglePanel("breakouts"),
});
const reactions = new ReactionsOverlay($("#reactions-overlay"));
buildReactionBar($("#reaction-bar"), (emoji) => session.send("reaction.send", { emoji }));
renderShortcutList($("#shortcut-list"));

// --- Controls ---------------------------------------------------------------------------------

const buttons = {
  mic: Array.from(document.querySelectorAll("[data-action=toggle-mic]")),
  camera: Array.from(document.querySelectorAll("[data-action=toggle-camera]")),
  present: $("[data-action=toggle-present]"),
  reactions: $("[data-action=toggle-reactions]"),
  hand: $("[data-action=toggle-hand]"),
  more: $("[data-action=more-options]"),
  leave: $("[data-action=leave]"),
  people: $("[data-action=toggle-people]"),
  chat: $("[data-action=toggle-chat]"),
  breakouts: $("[data-action=toggle-breakouts]"),
  info: $("[data-action=meeting-info]"),
};

function setToggle(button, { on, label, iconName, danger }) {
  button.setAttribute("aria-label", label);
  button.title = label + (button.dataset.shortcut ? ` (${button.dataset.shortcut})` : "");
  button.classList.toggle("off", Boolean(danger));
  button.classList.toggle("active", Boolean(on) && !danger);
  if (iconName) button.replaceChildren(icon(iconName));
}

function renderControls() {
  const { audio, video, screen } = media.intended;
  for (const button of buttons.mic) {
    setToggle(button, { label: audio ? "Turn off microphone" : "Turn on microphone", iconName: audio ? "mic" : "micOff", danger: !audio });
  }
  for (const button of buttons.camera) {
    setToggle(button, { label: video ? "Turn off camera" : "Turn on camera", iconName: video ? "cam" : "camOff", danger: !video });
  }
  setToggle(buttons.present, { on: screen, label: screen ? "Stop presenting" : "Present now", iconName: "present" });
  buttons.present.hidden = !media.canShareScreen;
  const handUp = roster.hands.includes(roster.selfId);
  setToggle(buttons.hand, { on: handUp, label: handUp ? "Lower hand" : "Raise hand", iconName: "hand" });
  buttons.people.setAttribute("aria-pressed", String(openPanel === "people"));
  buttons.chat.setAttribute("aria-pressed", String(openPanel === "chat"));
  buttons.breakouts.setAttribute("aria-pressed", String(openPanel === "breakouts"));
  buttons.breakouts.hidden = !roster.isHost;
  if (openPanel === "breakouts" && !roster.isHost) togglePanel(null);
  const peopleBadge = $("#people-badge");
  peopleBadge.textContent = String(roster.total || "");
  const waitingBadge = $("#waiting-badge");
  const waiting = roster.isHost ? roster.waiting.length : 0;
  waitingBadge.hidden = waiting === 0;
  waitingBadge.textContent = String(waiting);
  const chatBadge = $("#chat-badge");
  chatBadge.hidden = unreadChat === 0;
  chatBadge.textContent = String(unreadChat);
  $("#lock-indicator").hidden = !roster.locked;
  const recordingIndicator = $("#recording-indicator");
  recordingIndicator.hidden = !roster.recording;
  recordingIndicator.title = roster.recording ? "This meeting is being recorded" : "";
}

for (const button of buttons.mic) button.addEventListener("click", () => media.setMicEnabled(!media.intended.audio));
for (const button of buttons.camera) button.addEventListener("click", () => media.setCameraEnabled(!media.intended.video));
buttons.present.addEventListener("click", togglePresent);
buttons.hand.addEventListener("click", toggleHand);
buttons.reactions.addEventListener("click", () => {
  const bar = $("#reaction-bar");
  bar.hidden = !bar.hidden;
  buttons.reactions.setAttribute("aria-expanded", String(!bar.hidden));
  buttons.reactions.classList.toggle("active", !bar.hidden);
});
buttons.more.addEventListener("click", () =>
  openMenuFor(buttons.more, [
    { label: layout === "gallery" ? "Switch to speaker view" : "Switch to gallery view", onSelect: toggleLayout },
    ...(roster.isHost
      ? [
          roster.recording
            ? { label: "Stop recording", onSelect: () => session.send("host.record.stop", {}) }
            : { label: "Start recording", onSelect: () => session.send("host.record.start", {}) },
        ]
      : []),
    { label: "Settings", onSelect: () => openDialog("#settings-dialog") },
    { label: "Keyboard shortcuts", onSelect: () => openDialog("#help-dialog") },
  ]),
);
buttons.leave.addEventListener("click", () => {
  if (roster.isHost) openDialog("#leave-dialog");
  else session.leave();
});
buttons.people.addEventListener("click", () => togglePanel("people"));
buttons.chat.addEventListener("click", () => togglePanel("chat"));
buttons.breakouts.addEventListener("click", () => togglePanel("breakouts"));
buttons.info.addEventListener("click", () => openDialog("#info-dialog"));
for (const button of document.querySelectorAll("[data-action=close-panel]")) {
  button.addEventListener("click", () => togglePanel(null));
}
$("[data-action=end-for-all]").addEventListener("click", () => {
  $("#leave-dialog").close();
  session.send("host.end");
});
$("[data-action=just-leave]").addEventListener("click", () => {
  $("#leave-dialog").close();
  session.leave();
});
$("[data-action=copy-link]").addEventListener("click", async () => {
  const link = $("#meeting-link");
  try {
    await navigator.clipboard.writeText(link.value);
    toast("Meeting link copied");
  } catch {
    link.select();
  }
});
for (const button of document.querySelectorAll("[data-action=close-dialog]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

async function togglePresent() {
  if (media.screenTrack) {
    media.stopScreenShare();
    return;
  }
  try {
    await media.startScreenShare();
  } catch (err) {
    if (err?.name !== "NotAllowedError" && err?.name !== "AbortError") toast(`Could not share the screen: ${err.message || err}`, { kind: "error" });
  }
}

function toggleHand() {
  if (!session.joined) return;
  session.send(roster.hands.includes(roster.selfId) ? "hand.lower" : "hand.raise");
}

function toggleLayout() {
  layout = layout === "gallery" ? "speaker" : "gallery";
  tiles.setMode(layout);
  toast(layout === "speaker" ? "Speaker view" : "Gallery view", { timeout: 2000 });
}

function togglePanel(name) {
  openPanel = name === openPanel ? null : name;
  $("#side-panel").hidden = openPanel === null;
  $("#people-panel").hidden = openPanel !== "people";
  $("#chat-panel").hidden = openPanel !== "chat";
  $("#breakouts-panel").hidden = openPanel !== "breakouts";
  if (openPanel === "chat") {
    unreadChat = 0;
    $("#chat-input").focus();
    const list = $("#chat-messages");
    list.scrollTop = list.scrollHeight;
  }
  renderControls();
  requestAnimationFrame(() => tiles.layout());
}

function openDialog(selector) {
  const dialog = $(selector);
  if (selector === "#settings-dialog") $("#settings-devices").append($("#device-settings"));
  if (selector === "#leave-dialog") $("[data-action=end-for-all]").hidden = !roster.isHost;
  if (!dialog.open) dialog.showModal();
}

installShortcuts({
  mic: () => media.setMicEnabled(!media.intended.audio),
  camera: () => media.setCameraEnabled(!media.intended.video),
  hand: toggleHand,
  chat: () => session.joined && togglePanel("chat"),
  people: () => session.joined && togglePanel("people"),
  layout: () => session.joined && toggleLayout(),
  help: () => openDialog("#help-dialog"),
});

function tick() {
  $("#clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
tick();
setInterval(tick, 10_000);

// --- Media ------------------------------------------------------------------------------------

function sendMediaState() {
  if (!session.joined) return;
  const state = media.state;
  const key = JSON.stringify(state);
  if (key === lastSentState) return;
  if (session.send("media.state", state)) {
    lastSentState = key;
    if (roster.self) roster.setMedia(roster.selfId, state);
  }
}

media.addEventListener("track", ({ detail: { slot, track } }) => {
  if (!transport) return; // joining hands the current tracks over
  transport.replaceTrack(slot, track);
  pendingTransport?.replaceTrack(slot, track);
  if (slot === "audio") speakers.setLocalTrack(track);
});
media.addEventListener("change", () => {
  renderControls();
  if (session.joined) tiles.render();
  sendMediaState();
});
media.addEventListener("output", ({ detail: { deviceId } }) => tiles.setOutputDevice(deviceId));

// --- Media transport (mesh or SFU; see transport.js) --------------------------------------------

/** A transport for `mediaConfig` with our tracks; its events count only while it is current. */
function makeTransport(mediaConfig, selfId) {
  const made = createTransport(mediaConfig, {
    selfId,
    sendSignal: (to, kind, data) => session.send("signal", { to, kind, data }),
    send: (type, fields) => session.send(type, fields),
  });
  made.addEventListener("track", ({ detail }) => {
    if (made === transport) tiles.setRemoteTrack(detail.participantId, detail.slot, detail.track);
  });
  made.addEventListener("peerclosed", ({ detail }) => {
    if (made === transport) tiles.dropParticipant(detail.participantId);
  });
  made.addEventListener("peerstate", ({ detail }) => {
    if (made !== transport || detail.state !== "failed") return;
    const who = detail.participantId === "sfu" ? "the media server" : roster.name(detail.participantId);
    toast(`Trouble connecting to ${who}; retrying…`, { timeout: 4000 });
  });
  made.addLocalTrack("audio", media.audioTrack);
  made.addLocalTrack("camera", media.videoTrack);
  if (media.screenTrack) made.addLocalTrack("screen", media.screenTrack);
  return made;
}

/** SFU meetings: tell the worker what this page shows, a moment after the layout settles. */
function sendView() {
  clearTimeout(sendView.timer);
  sendView.timer = setTimeout(() => {
    const sfu = sfuTransport();
    if (sfu && session.joined) sfu.setView(tiles.view());
  }, 300);
}

function sfuTransport() {
  return [pendingTransport, transport].find((candidate) => candidate?.kind === "sfu") || null;
}

/** The room moved. Peer-to-peer → SFU: the old transport keeps the call going until the new
 * one is connected, then hands over the tiles, so nobody sees a gap. SFU → peer-to-peer (a small
 * meeting whose media server is gone): the old transport carries nothing any more, so the hand
 * over is at once and the peers connect to each other directly. */
function switchTopology(mediaConfig) {
  if (!transport || mediaConfig.topology === transport.kind || pendingTransport?.kind === mediaConfig.topology) return;
  pendingTransport?.close();
  const next = makeTransport(mediaConfig, transport.selfId);
  pendingTransport = next;
  // Everyone switches at once: in a mesh only one side of each pair offers (see mesh.js).
  next.syncPeers(roster.others().map((p) => p.id), { waitForOffer: "polite" });
  const handOver = () => {
    if (pendingTransport !== next) return;
    const old = transport;
    pendingTransport = null;
    transport = next;
    for (const person of roster.others()) tiles.dropParticipant(person.id);
    next.replay?.();
    old.close();
    speakers.start(next, next.selfId);
    quality.start(next);
    tiles.render();
  };
  if (next.kind === "sfu") next.addEventListener("ready", handOver);
  else handOver();
}

// --- Session ----------------------------------------------------------------------------------

function showPhase({ phase, reason, title, message }) {
  app.dataset.phase = phase;
  const inCall = phase === "joined" || phase === "reconnecting";
  $("#prejoin").hidden = !["idle", "connecting", "waiting"].includes(phase);
  call.hidden = !inCall;
  $("#ended").hidden = phase !== "ended";
  document.body.classList.toggle("in-call", inCall);
  prejoin.showWaiting(phase === "waiting");
  $("#reconnect-banner").hidden = phase !== "reconnecting";
  if (inCall) requestAnimationFrame(() => tiles.layout());
  if (phase === "ended") {
    $("#ended-title").textContent = title;
    $("#ended-message").textContent = message;
    // Coming back makes sense after leaving or losing the connection, not after a refusal.
    $("#rejoin").hidden = !["left", "lost", "replaced", "removed", "version"].includes(reason);
    teardown();
  }
}

function teardown() {
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  $("#toasts").replaceChildren();
  speakers.stop();
  quality.stop();
  closeTransports();
  media.stopAll();
}

function closeTransports() {
  pendingTransport?.close();
  pendingTransport = null;
  transport?.close();
  transport = null;
}

session.addEventListener("phase", (event) => showPhase(event.detail));
session.addEventListener("joinerror", (event) => prejoin.joinRefused(event.detail));
// Another room (breakout rooms opening or closing, a host's visit, …): its media starts over
// from its own `joined.media`, as after a fresh join. Before the roster changes, so that the
// old room's connections never reach the new room's people.
session.addEventListener("moving", () => {
  closeTransports();
  for (const person of roster.others()) tiles.dropParticipant(person.id);
  unreadChat = 0;
});
session.addEventListener("joined", ({ detail: { message, resumed, moved, rejoined } }) => {
  const selfId = message.you.id;
  if (!transport || transport.selfId !== selfId) {
    closeTransports();
    try {
      transport = makeTransport(message.media, selfId);
    } catch (err) {
      toast(err.message, { kind: "error", timeout: 0 });
      return;
    }
    speakers.setLocalTrack(media.audioTrack);
    speakers.start(transport, selfId);
    quality.start(transport);
    if (!moved && !rejoined && roster.muteOnEntry && !roster.isHost && (media.micOn || !media.started)) {
      media.setMicEnabled(false);
      toast("You joined muted. Unmute when you want to speak.");
    }
  }
  // Newcomers (also after a move) let the others offer first (see mesh.js); after a resume the
  // peers still exist; a reloaded page replaces the connections the others had to the old one.
  const others = roster.others().map((p) => p.id);
  if (rejoined) transport.rejoin(others);
  else transport.syncPeers(others, { waitForOffer: moved || !resumed });
  if (resumed && !moved) transport.restartFailed();
  if (moved) chat.replaceHistory(message.chat || []);
  else chat.setHistory(message.chat || []);
  chat.renderRecipients();
  knownWaiting = new Set(roster.waiting.map((p) => p.id));
  lastSentState = null;
  sendMediaState();
  tiles.render();
  people.render();
  renderControls();
});
session.addEventListener("signal", ({ detail }) => transport?.handleSignal(detail.from, detail.kind, detail.data));
session.addEventListener("topology", ({ detail }) => switchTopology(detail));
session.addEventListener("media.answer", ({ detail }) => {
  sfuTransport()?.handleAnswer(detail.sdp).catch((err) => console.warn("sfu: bad answer", err));
});
session.addEventListener("media.slots", ({ detail }) => sfuTransport()?.setSlots(detail.slots));
session.addEventListener("media.failed", () => sfuTransport()?.scheduleRestart());
session.addEventListener("speaker", ({ detail }) => speakers.setDominant(detail.participant_id));
session.addEventListener("chat", ({ detail }) => chat.add(detail));
session.addEventListener("reaction", ({ detail }) => reactions.show(detail.counts));
session.addEventListener("left", ({ detail }) => {
  // Someone going to another room has not left the meeting: no notice (the roster shows it).
  if (detail.participant_id === roster.selfId || detail.reason === "moved") return;
  toast(`${roster.name(detail.participant_id)} left the meeting`, { timeout: 3000 });
});
// People who came into this room together with us (from a roster.batch): nobody offers to the
// others on their arrival, so of each pair the impolite side offers now (see mesh.js).
session.addEventListener("batch", ({ detail }) => {
  const came = (detail.joined || []).map((p) => p.id);
  if (came.includes(roster.selfId)) transport?.meetTogether(came.filter((id) => id !== roster.selfId));
});
session.addEventListener("busy", () => toast("Many people are joining right now — you'll be in in a moment", { timeout: 3000 }));
session.addEventListener("muted", ({ detail }) => hostMutedMe(detail.by));
session.addEventListener("mediastate", ({ detail }) => {
  if (detail.participant_id === roster.selfId && detail.by && !detail.audio && media.micOn) hostMutedMe(detail.by);
});
session.addEventListener("hand", ({ detail }) => {
  const newest = (detail.hands || []).at(-1);
  if (newest && newest !== roster.selfId && !handsSeen.has(newest)) toast(`${roster.name(newest)} raised a hand`, { timeout: 4000 });
  handsSeen = new Set(detail.hands || []);
  renderControls();
});
session.addEventListener("recording", ({ detail }) => {
  toast(detail.active ? "This meeting is being recorded" : "Recording stopped", { timeout: 4000 });
});
session.addEventListener("locked", ({ detail }) => toast(detail.locked ? "The meeting is locked" : "The meeting is unlocked", { timeout: 3000 }));
// Refusals of our media.offer by the media server side: try again with a new connection (with
// backoff) instead of staying without media; the peer-to-peer connections, if any, carry on.
const SFU_RETRY_CODES = new Set(["sfu_unavailable", "sfu_timeout", "unknown_room", "worker_draining"]);
session.addEventListener("error", ({ detail }) => {
  const sfu = sfuTransport();
  if (sfu && SFU_RETRY_CODES.has(detail.code) && sfu.connectionState() !== "connected") {
    sfu.scheduleRestart();
    if (sfu.attempt === 1) toast("Connecting to the media server…", { timeout: 4000 });
    return;
  }
  const text = detail.code === "rate_limited" ? "You're sending too fast. Wait a moment." : detail.message;
  toast(text, { kind: "error" });
});
chat.addEventListener("incoming", ({ detail }) => {
  if (openPanel === "chat") return;
  unreadChat += 1;
  renderControls();
  toast(`${detail.from_name}: ${detail.text}`.slice(0, 140), { timeout: 4000, actions: [{ label: "Open chat", onClick: () => togglePanel("chat") }] });
});
chat.addEventListener("notsent", () => toast("Not connected; the message was not sent.", { kind: "error" }));

function hostMutedMe(by) {
  media.setMicEnabled(false);
  const name = roster.name(by);
  $("#muted-notice-text").textContent = `${name} muted you. Only you can unmute yourself.`;
  $("#muted-notice").hidden = false;
  clearTimeout(hostMutedMe.timer);
  hostMutedMe.timer = setTimeout(() => ($("#muted-notice").hidden = true), 10_000);
}
$("[data-action=dismiss-muted]").addEventListener("click", () => ($("#muted-notice").hidden = true));

roster.addEventListener("change", ({ detail: { what } }) => {
  if (!session.joined && session.phase !== "reconnecting") return;
  if (["all", "joined", "left", "batch"].includes(what)) {
    transport?.syncPeers(roster.others().map((p) => p.id));
    pendingTransport?.syncPeers(roster.others().map((p) => p.id));
  }
  if (what === "waiting" && roster.isHost) {
    const stillWaiting = new Set(roster.waiting.map((p) => p.id));
    for (const [id, close] of waitingToasts) {
      if (!stillWaiting.has(id)) {
        close();
        waitingToasts.delete(id);
      }
    }
    for (const person of roster.waiting) {
      if (knownWaiting.has(person.id)) continue;
      const close = toast(`${person.name} wants to join`, {
        timeout: 15000,
        actions: [
          { label: "Admit", onClick: () => session.send("host.admit", { participant_id: person.id }) },
          { label: "View", onClick: () => openPanel !== "people" && togglePanel("people") },
        ],
      });
      waitingToasts.set(person.id, close);
    }
    knownWaiting = new Set(roster.waiting.map((p) => p.id));
  }
  tiles.render();
  renderControls();
});

speakers.addEventListener("change", ({ detail }) => tiles.setSpeaking(detail.speaking, detail.active));
quality.addEventListener("change", ({ detail }) => {
  tiles.setQuality(detail.perPeer);
  const indicator = $("#quality");
  const overall = session.phase === "reconnecting" ? "poor" : detail.overall;
  indicator.dataset.quality = overall;
  indicator.setAttribute("aria-label", `Connection quality: ${overall}`);
  indicator.title = `Connection quality: ${overall}`;
});

// --- Start ------------------------------------------------------------------------------------

showPhase({ phase: "idle" });
renderControls();
media.start().then(() => {
  renderControls();
  prejoin.renderPreview();
});
