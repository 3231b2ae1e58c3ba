// SFU transport: one RTCPeerConnection to the meeting's SFU worker (docs/protocol.md, "Media
// (SFU)"; the worker's side in docs/sfu-media.md). Same interface as mesh.js.
//
// The browser offers, in one SDP: its send sections in a fixed order (audio, camera high,
// camera low, screen; sendonly, the screen one without a track until sharing starts) and its
// receive slots (recvonly): `audioSlots` audio, then `videoSlots` + 1 video (the last one
// carries a screen share). The worker answers; it never offers. Which participant a receive slot
// shows changes without renegotiation: the server sends `media.slots` ({mid: {participant,
// kind}}) and the transport moves the slot's track from one tile to the other.
//
// Quality layers: the camera track goes out twice, full size and scaled down 4× (the worker
// gives each subscriber the one that fits its tile, switching on keyframes).
//
// Recovery: a connection that fails (or stays disconnected), a `media.failed` from the server
// (the worker lost us, or the room moved to another worker) or a resumed session starts a new
// RTCPeerConnection and offers again with `restart: true`.

const SEND_ROLES = ["audio", "camera-high", "camera-low", "screen"];
const ROLE_KIND = { audio: "audio", "camera-high": "video", "camera-low": "video", screen: "video" };
const SLOT_ROLES = { audio: ["audio"], camera: ["camera-high", "camera-low"], screen: ["screen"] };
const SLOT_KIND_TO_TILE = { audio: "audio", video: "camera", screen: "screen" };
const GATHER_WAIT_MS = 1500;
const READY_WAIT_MS = 5000;
const DISCONNECTED_GRACE_MS = 4000;
const RESTART_BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

function codecsFor(kind) {
  const wanted = kind === "audio" ? ["audio/opus"] : ["video/vp8", "video/h264", "video/rtx"];
  const all = RTCRtpReceiver.getCapabilities?.(kind)?.codecs || [];
  const chosen = all.filter((codec) => wanted.includes(codec.mimeType.toLowerCase()));
  // H.264 only as a fallback after VP8 (the order is the preference).
  chosen.sort((a, b) => wanted.indexOf(a.mimeType.toLowerCase()) - wanted.indexOf(b.mimeType.toLowerCase()));
  return chosen;
}

function waitForGathering(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = setTimeout(done, ms);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export class SfuTransport extends EventTarget {
  constructor({ selfId, iceServers = [], send, audioSlots = 3, videoSlots = 9 }) {
    super();
    this.kind = "sfu";
    this.selfId = selfId;
    this.iceServers = iceServers;
    this.send = send; // (type, fields) → bool: a message to the server
    this.audioSlots = audioSlots;
    this.videoSlots = videoSlots;
    this.local = new Map(); // slot (audio | camera | screen) → track
    this.present = new Set(); // the other participants in the room
    this.slots = new Map(); // mid → {participant, slot} shown there now
    this.closed = false;
    this.attempt = 0;
    this.ready = false;
    this.pc = null;
    this.start();
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // --- the peer connection ------------------------------------------------------------------

  start() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.pc = pc;
    this.senders = new Map(); // role → RTCRtpTransceiver
    this.answered = false;
    this.pendingCandidates = [];
    const camera = this.local.get("camera") || null;
    const sendInit = {
      audio: { track: this.local.get("audio") || null },
      "camera-high": { track: camera, encodings: [{ maxBitrate: 1_200_000 }] },
      "camera-low": { track: camera, encodings: [{ scaleResolutionDownBy: 4, maxBitrate: 150_000 }] },
      screen: { track: this.local.get("screen") || null, encodings: [{ maxBitrate: 2_500_000 }] },
    };
    for (const role of SEND_ROLES) {
      const { track, encodings } = sendInit[role];
      const init = { direction: "sendonly", streams: [], ...(encodings ? { sendEncodings: encodings } : {}) };
      const transceiver = pc.addTransceiver(track || ROLE_KIND[role], init);
      this.preferCodecs(transceiver, ROLE_KIND[role]);
      this.senders.set(role, transceiver);
    }
    for (let i = 0; i < this.audioSlots; i += 1) this.preferCodecs(pc.addTransceiver("audio", { direction: "recvonly" }), "audio");
    for (let i = 0; i <= this.videoSlots; i += 1) this.preferCodecs(pc.addTransceiver("video", { direction: "recvonly" }), "video");

    pc.addEventListener("track", ({ transceiver }) => this.onTrack(transceiver));
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (!candidate || pc !== this.pc) return;
      if (this.answered) this.send("media.ice", { candidate: candidate.toJSON() });
      else this.pendingCandidates.push(candidate.toJSON());
    });
    pc.addEventListener("connectionstatechange", () => this.onConnectionState(pc));
    this.offer(pc).catch((err) => {
      console.warn("sfu: offer failed", err);
      this.scheduleRestart();
    });
  }

  preferCodecs(transceiver, kind) {
    const codecs = codecsFor(kind);
    if (codecs.length && transceiver.setCodecPreferences) {
      try {
        transceiver.setCodecPreferences(codecs);
      } catch (err) {
        console.warn("sfu: codec preferences refused", err);
      }
    }
  }

  async offer(pc) {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    // The worker does not trickle: give the browser a moment to put its candidates in the SDP.
    await waitForGathering(pc, GATHER_WAIT_MS);
    if (pc !== this.pc) return;
    const roles = {};
    for (const [role, transceiver] of this.senders) if (transceiver.mid !== null) roles[transceiver.mid] = role;
    this.pendingCandidates = []; // those gathered so far are in localDescription
    this.send("media.offer", { sdp: pc.localDescription.sdp, roles, restart: true });
  }

  /** The server's `media.answer`. */
  async handleAnswer(sdp) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== "have-local-offer") return;
    await pc.setRemoteDescription({ type: "answer", sdp });
    this.answered = true;
    for (const candidate of this.pendingCandidates.splice(0)) this.send("media.ice", { candidate });
    // A new peer on the worker knows nothing of what we show yet.
    this.lastView = null;
    if (this.pendingView) this.setView(this.pendingView);
  }

  onConnectionState(pc) {
    if (pc !== this.pc || this.closed) return;
    const state = pc.connectionState;
    this.emit("peerstate", { participantId: "sfu", state });
    clearTimeout(this.disconnectTimer);
    if (state === "connected") {
      this.attempt = 0;
      if (!this.ready) this.awaitPictures(pc);
    } else if (state === "failed") {
      this.scheduleRestart();
    } else if (state === "disconnected") {
      this.disconnectTimer = setTimeout(() => pc.connectionState === "disconnected" && this.scheduleRestart(), DISCONNECTED_GRACE_MS);
    }
  }

  /** "ready" once the video of everyone shown in a camera slot decodes (or after a while):
   * handing the tiles over any earlier would show a frozen picture until the first keyframe. */
  async awaitPictures(pc) {
    const deadline = performance.now() + READY_WAIT_MS;
    while (pc === this.pc && !this.ready && performance.now() < deadline) {
      const cameraMids = Array.from(this.slots).filter(([, shown]) => shown.slot === "camera").map(([mid]) => mid);
      const decoding = new Set();
      (await pc.getStats().catch(() => new Map())).forEach((stat) => {
        if (stat.type === "inbound-rtp" && stat.kind === "video" && stat.framesDecoded > 0) decoding.add(stat.mid);
      });
      const expected = Math.min(this.present.size, this.videoSlots);
      if (cameraMids.length >= expected && cameraMids.every((mid) => decoding.has(mid))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (pc !== this.pc || this.ready) return;
    this.ready = true;
    this.emit("ready", {});
  }

  scheduleRestart() {
    if (this.closed || this.restartTimer) return;
    const delay = RESTART_BACKOFF_MS[Math.min(this.attempt, RESTART_BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.restart();
    }, delay);
  }

  /** A new RTCPeerConnection (the worker starts this participant over). */
  restart() {
    if (this.closed) return;
    const old = this.pc;
    this.pc = null;
    clearTimeout(this.disconnectTimer);
    old?.close();
    this.clearSlots();
    this.start();
  }

  // --- what the receive slots show ------------------------------------------------------------

  onTrack(transceiver) {
    const shown = this.slots.get(transceiver.mid);
    if (shown) this.emit("track", { participantId: shown.participant, slot: shown.slot, track: transceiver.receiver.track });
  }

  receiverFor(mid) {
    return this.pc?.getTransceivers().find((t) => t.mid === mid && t.direction === "recvonly")?.receiver || null;
  }

  /** The server's `media.slots`: {mid: {participant, kind}} for every slot that shows someone. */
  setSlots(mapping) {
    const next = new Map();
    for (const [mid, source] of Object.entries(mapping || {})) {
      const slot = SLOT_KIND_TO_TILE[source?.kind];
      if (slot && source.participant && source.participant !== this.selfId) next.set(mid, { participant: source.participant, slot });
    }
    for (const [mid, was] of this.slots) {
      const now = next.get(mid);
      if (!now || now.participant !== was.participant || now.slot !== was.slot) {
        this.emit("track", { participantId: was.participant, slot: was.slot, track: null });
      }
    }
    this.slots = next;
    this.replay();
  }

  /** Emits the current track of every slot (when this transport takes over the tiles). */
  replay() {
    for (const [mid, { participant, slot }] of this.slots) {
      const track = this.receiverFor(mid)?.track;
      if (track) this.emit("track", { participantId: participant, slot, track });
    }
  }

  clearSlots() {
    for (const { participant, slot } of this.slots.values()) this.emit("track", { participantId: participant, slot, track: null });
    this.slots = new Map();
  }

  /** Tells the worker what this page shows (only when it changed, and once connected): the
   * tiles of the gallery page shown (``shown``, most relevant first), else every other
   * participant's tile when they all fit the video slots, else "follow the speakers". */
  setView({ stage, sizes, tiles: shown }) {
    const others = Array.from(this.present);
    const tiles = shown ? shown.filter((id) => this.present.has(id)) : others.length <= this.videoSlots ? others : null;
    const view = { tiles, stage: stage && this.present.has(stage) ? stage : null, sizes: {} };
    for (const id of others) if (sizes[id] !== undefined) view.sizes[id] = Math.min(4320, Math.max(0, sizes[id]));
    const key = JSON.stringify(view);
    if (key === this.lastView || !this.answered) {
      this.pendingView = view;
      return;
    }
    this.lastView = key;
    this.send("media.view", view);
  }

  // --- the transport interface (see mesh.js) --------------------------------------------------

  addLocalTrack(slot, track) {
    if (!(slot in SLOT_ROLES)) throw new Error(`unknown slot ${slot}`);
    if (track) this.local.set(slot, track);
    else this.local.delete(slot);
    for (const role of SLOT_ROLES[slot]) {
      const transceiver = this.senders?.get(role);
      if (transceiver) transceiver.sender.replaceTrack(track || null).catch((err) => console.warn("sfu: replaceTrack", err));
    }
  }

  replaceTrack(slot, track) {
    this.addLocalTrack(slot, track);
  }

  removeTrack(slot) {
    this.addLocalTrack(slot, null);
  }

  addPeer(id) {
    if (id !== this.selfId) this.present.add(id);
  }

  removePeer(id) {
    if (!this.present.delete(id)) return;
    for (const [mid, shown] of this.slots) if (shown.participant === id) this.slots.delete(mid);
    this.emit("peerclosed", { participantId: id });
  }

  syncPeers(ids) {
    const wanted = new Set(ids);
    for (const id of Array.from(this.present)) if (!wanted.has(id)) this.removePeer(id);
    for (const id of wanted) this.addPeer(id);
  }

  handleSignal() {
    // Peer-to-peer signals (from before the room moved) are the mesh transport's business.
  }

  meetTogether() {
    // Everyone offers to the worker; nothing to arrange between participants.
  }

  rejoin(ids) {
    // The worker drops our previous page's peer when this page offers (restart: true).
    this.syncPeers(ids);
  }

  /** After a resumed session the server no longer holds our peer: start over. */
  restartFailed() {
    this.restart();
  }

  async getStats() {
    const report = await this.pc?.getStats().catch(() => null);
    return new Map(report ? [["sfu", report]] : []);
  }

  getAudioLevels() {
    const levels = new Map();
    for (const [mid, { participant, slot }] of this.slots) {
      if (slot !== "audio") continue;
      let level = 0;
      for (const source of this.receiverFor(mid)?.getSynchronizationSources() || []) {
        if (typeof source.audioLevel === "number") level = Math.max(level, source.audioLevel);
      }
      levels.set(participant, level);
    }
    for (const id of this.present) if (!levels.has(id)) levels.set(id, 0);
    return levels;
  }

  connectionState() {
    return this.pc?.connectionState || "new";
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.disconnectTimer);
    clearTimeout(this.restartTimer);
    this.pc?.close();
    this.pc = null;
    this.local.clear();
  }
}
