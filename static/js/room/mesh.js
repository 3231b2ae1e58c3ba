// Mesh transport: one RTCPeerConnection per remote participant, negotiated with the
// "perfect negotiation" pattern (the participant whose id sorts lower is polite).
//
// The transport interface main.js relies on (an SFU transport will implement the same):
//   addLocalTrack(slot, track) / replaceTrack(slot, track) / removeTrack(slot)
//       slot is "audio", "camera" or "screen"; replacing or removing never renegotiates.
//   addPeer(id) / removePeer(id) / syncPeers(ids)    who we exchange media with
//   handleSignal(from, kind, data)                   a `signal` message from the server
//   getStats() → Map(participantId → RTCStatsReport)
//   getAudioLevels() → Map(participantId → 0..1)
//   restartFailed()                                  ICE-restart connections that are not up
//   meetTogether(ids) / rejoin(ids)                  after a move with others / a reload (below)
//   close()
// Events (EventTarget): "track" {participantId, slot, track}, "peerstate" {participantId, state},
// "peerclosed" {participantId}.
//
// Glare at the start is avoided: a newcomer (who learns of the others from `joined`) waits for
// their offers before adding its own tracks, since every member offers to a newcomer as soon as
// roster.joined arrives; when everyone starts at once (a meeting back from the SFU to
// peer-to-peer) only the impolite side of each pair offers. (Chromium 156 was seen to never
// gather ICE candidates on a polite connection that rolled back its own pending offer.) A
// watchdog heals what still goes wrong: an offer left unanswered is sent again, a connection that
// never starts checking is ICE-restarted, and if that does not help either the impolite side
// replaces the pair's connections (`reset`: both sides start over with new RTCPeerConnections).
//
// Each side sends on transceivers it created itself (direction sendonly), one per slot, so
// receiving never depends on which transceiver the other side reused. Offers and answers carry
// `slots` ({mid: slot}) naming what the sender sends on each of its m-lines, which tells the
// receiver whether a video track is a camera or a screen.
//
// Every signal names the connection it comes from (`conn`, an id per RTCPeerConnection) and the
// one of the other side it is meant for (`peer_conn`, once known). Connections get replaced (a
// `reset`, a reloaded page, a move to another room), and signals of a replaced connection may
// still be on their way: a connection ignores those meant for another connection of its own,
// so an old offer or answer never lands on the new connection. Offers are numbered (`seq`) and
// answers name the offer they answer: a copy of an offer already answered (the watchdog sends
// an offer again when its answer is slow) gets the same answer again instead of being applied
// twice, and an answer to an older offer is dropped.

const SLOT_KIND = { audio: "audio", camera: "video", screen: "video" };
const DISCONNECTED_GRACE_MS = 4000;
const WAIT_FOR_OFFER_MS = 8000;
const WATCHDOG_MS = 1000;
const OFFER_RESEND_MS = 4000;
const STUCK_NEW_MS = 6000;
// ICE restarts of a connection stuck in "new" before the impolite side replaces it.
const RESTARTS_BEFORE_RESET = 1;

function connectionId() {
  return Math.random().toString(36).slice(2, 10);
}

class Peer {
  /** waitForOffer: true, false, or "polite" (wait if we are the polite side of this pair).
   * remoteConn: the other side's connection, when a `reset` named it. */
  constructor(transport, id, { waitForOffer = false, remoteConn = null } = {}) {
    this.transport = transport;
    this.id = id;
    this.conn = connectionId();
    this.remoteConn = remoteConn;
    this.offerSeq = 0; // our latest offer
    this.remoteOfferSeq = 0; // the other side's latest offer we answered
    this.lastAnswer = null; // {seq, payload}: our answer to it, while we have not offered since
    this.polite = transport.selfId < id;
    if (waitForOffer === "polite") waitForOffer = this.polite;
    this.pc = new RTCPeerConnection({ iceServers: transport.iceServers });
    this.transceivers = new Map(); // slot → our sending RTCRtpTransceiver
    this.remoteSlots = new Map(); // mid → slot the other side sends there
    this.remoteTracks = new Map(); // slot → MediaStreamTrack
    this.makingOffer = false;
    this.offering = null;
    this.ignoreOffer = false;
    this.queue = Promise.resolve();
    this.closed = false;
    this.disconnectTimer = null;
    this.waitingForOffer = waitForOffer;
    this.since = { state: "", at: performance.now() }; // how long the connection has looked stuck
    this.lastFix = 0;
    this.fixes = 0;
    this.stuckRestarts = 0; // ICE restarts since the connection was last seen stuck in "new"

    const pc = this.pc;
    pc.addEventListener("negotiationneeded", () => this.negotiate());
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (candidate) this.send("candidate", { candidate: candidate.toJSON() });
    });
    pc.addEventListener("track", (event) => this.onTrack(event));
    pc.addEventListener("iceconnectionstatechange", () => this.onIceState());
    pc.addEventListener("connectionstatechange", () => {
      this.transport.emit("peerstate", { participantId: id, state: pc.connectionState });
      if (pc.connectionState === "failed") this.restart();
    });
    if (waitForOffer) {
      this.offerTimer = setTimeout(() => this.attachLocal(), WAIT_FOR_OFFER_MS);
    } else {
      this.attachLocal();
    }
    this.watchdog = setInterval(() => this.checkHealth(), WATCHDOG_MS);
  }

  attachLocal() {
    clearTimeout(this.offerTimer);
    this.waitingForOffer = false;
    if (this.closed) return;
    for (const [slot, { track, stream }] of this.transport.local) this.attach(slot, track, stream);
  }

  send(kind, data) {
    this.transport.sendSignal(this.id, kind, { ...data, conn: this.conn, peer_conn: this.remoteConn });
  }

  /** A signal for this connection: from the other side's connection we talk to, or meant for
   * us (not for a connection of ours that was replaced). The first one names the other side. */
  accepts({ conn, peer_conn: peerConn }) {
    if (conn && conn === this.remoteConn) return true;
    if (peerConn && peerConn !== this.conn) return false;
    if (conn) {
      this.remoteConn = conn;
      this.remoteOfferSeq = 0;
      this.lastAnswer = null;
    }
    return true;
  }

  /** Put `track` (or nothing) on this slot's transceiver, creating it the first time. */
  attach(slot, track, stream) {
    if (this.waitingForOffer) return; // attachLocal() adds the current tracks later
    const existing = this.transceivers.get(slot);
    if (existing) {
      existing.sender.replaceTrack(track).catch((err) => console.warn("mesh: replaceTrack failed", err));
      return;
    }
    if (!track && slot === "screen") return;
    const transceiver = this.pc.addTransceiver(track || SLOT_KIND[slot], { direction: "sendonly", streams: [stream] });
    this.transceivers.set(slot, transceiver);
  }

  slotMap() {
    const slots = {};
    for (const [slot, transceiver] of this.transceivers) {
      if (transceiver.mid !== null) slots[transceiver.mid] = slot;
    }
    return slots;
  }

  negotiate() {
    this.offering = this.makeOffer();
    return this.offering;
  }

  async makeOffer() {
    if (this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.offerSeq += 1;
      this.lastAnswer = null;
      this.send("offer", { description: this.pc.localDescription.toJSON(), slots: this.slotMap(), seq: this.offerSeq });
    } catch (err) {
      console.warn(`mesh: offer to ${this.id} failed`, err);
    } finally {
      this.makingOffer = false;
    }
  }

  /** Signals are handled one at a time, in arrival order. */
  handle(kind, data) {
    this.queue = this.queue
      .then(() => this.handleNow(kind, data))
      .catch((err) => console.warn(`mesh: ${kind} from ${this.id} failed`, err));
    return this.queue;
  }

  async handleNow(kind, data) {
    if (this.closed || !data || typeof data !== "object" || !this.accepts(data)) return;
    const pc = this.pc;
    if (kind === "offer" || kind === "answer") {
      const description = data.description;
      if (!description || (description.type !== "offer" && description.type !== "answer")) return;
      if (description.type === "offer" && data.seq && data.seq <= this.remoteOfferSeq) {
        if (this.lastAnswer?.seq === data.seq) this.send("answer", this.lastAnswer.payload);
        return; // a copy of an offer already answered
      }
      if (description.type === "answer" && ((data.seq && data.seq !== this.offerSeq) || pc.signalingState !== "have-local-offer")) {
        return; // an answer to an older offer of ours, or a second copy
      }
      const readyForOffer = !this.makingOffer && pc.signalingState === "stable";
      const collision = description.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      // Polite and our own offer still being set: let it finish, then roll it back. (Rolling
      // back over a pending setLocalDescription left Chromium 156 without ICE candidates.)
      if (collision && this.makingOffer) await this.offering;
      for (const [mid, slot] of Object.entries(data.slots || {})) {
        if (slot in SLOT_KIND) this.remoteSlots.set(mid, slot);
      }
      await pc.setRemoteDescription(description); // a polite peer rolls back implicitly
      if (description.type === "offer") {
        await pc.setLocalDescription();
        const payload = { description: pc.localDescription.toJSON(), slots: this.slotMap(), seq: data.seq };
        this.remoteOfferSeq = Math.max(this.remoteOfferSeq, data.seq || 0);
        this.lastAnswer = { seq: data.seq, payload };
        this.send("answer", payload);
        if (this.waitingForOffer) this.attachLocal(); // now offer our own tracks
      }
    } else if (kind === "candidate") {
      try {
        await pc.addIceCandidate(data.candidate);
      } catch (err) {
        if (!this.ignoreOffer) throw err;
      }
    } else if (kind === "restart") {
      pc.restartIce();
    } else if (kind === "reset") {
      // From the impolite side: it offers on its new connection. From the polite side (a page
      // that was reloaded, see MeshTransport.rejoin): we offer on ours.
      this.transport.replacePeer(this.id, { waitForOffer: this.polite, remoteConn: data.conn || null });
    }
  }

  onTrack({ transceiver, track }) {
    const slot = this.remoteSlots.get(transceiver.mid) || (track.kind === "audio" ? "audio" : "camera");
    this.remoteTracks.set(slot, track);
    this.transport.emit("track", { participantId: this.id, slot, track });
  }

  onIceState() {
    const state = this.pc.iceConnectionState;
    clearTimeout(this.disconnectTimer);
    if (state === "failed") {
      this.restart();
    } else if (state === "disconnected") {
      this.disconnectTimer = setTimeout(() => {
        if (this.pc.iceConnectionState === "disconnected") this.restart();
      }, DISCONNECTED_GRACE_MS);
    }
  }

  /** Re-send an unanswered offer (it or its answer was lost); restart ICE that never started. */
  checkHealth() {
    const pc = this.pc;
    if (this.closed || this.waitingForOffer) return;
    const now = performance.now();
    const state = `${pc.signalingState}/${pc.iceConnectionState}/${pc.localDescription?.sdp.length}`;
    if (state !== this.since.state) this.since = { state, at: now };
    const stuckFor = now - this.since.at;
    const backoff = Math.min(30_000, OFFER_RESEND_MS * 2 ** Math.min(this.fixes, 3));
    if (now - this.lastFix < backoff) return;
    if (pc.signalingState === "have-local-offer" && stuckFor > OFFER_RESEND_MS) {
      this.lastFix = now;
      this.fixes += 1;
      this.send("offer", { description: pc.localDescription.toJSON(), slots: this.slotMap(), seq: this.offerSeq });
    } else if (pc.signalingState === "stable" && pc.remoteDescription && pc.iceConnectionState === "new" && stuckFor > STUCK_NEW_MS) {
      this.lastFix = now;
      this.fixes += 1;
      if (!this.polite && this.stuckRestarts >= RESTARTS_BEFORE_RESET) {
        this.reset();
        return;
      }
      this.stuckRestarts += 1;
      this.restart();
    } else if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") {
      this.fixes = 0;
      this.stuckRestarts = 0;
    }
  }

  /** ICE restart: the impolite side offers it; the polite side asks for it (`kind: restart`). */
  restart() {
    if (this.closed) return;
    if (this.polite) this.send("restart", {});
    else this.pc.restartIce();
  }

  /** Impolite side: start the pair over with new connections (the polite side waits for our offer). */
  reset() {
    if (this.closed || this.polite) return;
    this.transport.replacePeer(this.id, { waitForOffer: false }).send("reset", {});
  }

  audioLevel() {
    let level = 0;
    for (const receiver of this.pc.getReceivers()) {
      if (receiver.track.kind !== "audio") continue;
      for (const source of receiver.getSynchronizationSources()) {
        if (typeof source.audioLevel === "number") level = Math.max(level, source.audioLevel);
      }
    }
    return level;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.disconnectTimer);
    clearTimeout(this.offerTimer);
    clearInterval(this.watchdog);
    this.pc.close();
  }
}

export class MeshTransport extends EventTarget {
  constructor({ selfId, iceServers = [], sendSignal }) {
    super();
    this.kind = "mesh";
    this.selfId = selfId;
    this.iceServers = iceServers;
    this.sendSignal = sendSignal;
    this.peers = new Map(); // participant id → Peer (tests read peer.pc)
    // Our slots: audio and camera share a stream (lip sync), the screen has its own.
    const cameraStream = new MediaStream();
    this.streams = { audio: cameraStream, camera: cameraStream, screen: new MediaStream() };
    this.local = new Map(); // slot → {track, stream}
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  addLocalTrack(slot, track) {
    if (!(slot in SLOT_KIND)) throw new Error(`unknown slot ${slot}`);
    const entry = { track, stream: this.streams[slot] };
    this.local.set(slot, entry);
    for (const peer of this.peers.values()) peer.attach(slot, track, entry.stream);
  }

  replaceTrack(slot, track) {
    this.addLocalTrack(slot, track);
  }

  removeTrack(slot) {
    if (this.local.has(slot)) this.addLocalTrack(slot, null);
  }

  /** waitForOffer: we are the newcomer and the other side will offer first. */
  addPeer(id, { waitForOffer = false, remoteConn = null } = {}) {
    if (id === this.selfId || this.peers.has(id)) return this.peers.get(id);
    const peer = new Peer(this, id, { waitForOffer, remoteConn });
    this.peers.set(id, peer);
    return peer;
  }

  /** A new connection to `id` in place of the current one (see Peer.reset). */
  replacePeer(id, { waitForOffer, remoteConn = null }) {
    this.removePeer(id);
    return this.addPeer(id, { waitForOffer, remoteConn });
  }

  removePeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.close();
    this.emit("peerclosed", { participantId: id });
  }

  syncPeers(ids, { waitForOffer = false } = {}) {
    const wanted = new Set(ids);
    for (const id of Array.from(this.peers.keys())) if (!wanted.has(id)) this.removePeer(id);
    for (const id of wanted) this.addPeer(id, { waitForOffer });
  }

  /** These people entered the room at the same moment as we did (a breakout room opening or
   * closing): nobody offers to the others on their arrival, so of each pair the impolite side
   * offers now instead of waiting. */
  meetTogether(ids) {
    for (const id of ids) {
      const peer = this.peers.get(id);
      if (peer && peer.waitingForOffer && !peer.polite) peer.attachLocal();
    }
  }

  /** A reloaded page of a participant the others never saw leave: they still hold connections
   * to the old page. Each pair starts over (`reset`), and its impolite side offers. */
  rejoin(ids) {
    for (const id of ids) {
      if (id === this.selfId) continue;
      this.replacePeer(id, { waitForOffer: "polite" }).send("reset", {});
    }
  }

  handleSignal(from, kind, data) {
    if (from === this.selfId) return;
    // An offer can come from someone whose roster.joined we have not processed yet.
    const peer = this.peers.get(from) || (kind === "offer" ? this.addPeer(from, { waitForOffer: true }) : null);
    if (peer) peer.handle(kind, data);
  }

  restartFailed() {
    for (const peer of this.peers.values()) {
      if (peer.pc.connectionState !== "connected" && peer.pc.connectionState !== "new") peer.restart();
    }
  }

  async getStats() {
    const entries = await Promise.all(
      Array.from(this.peers, async ([id, peer]) => [id, await peer.pc.getStats().catch(() => null)]),
    );
    return new Map(entries.filter(([, report]) => report));
  }

  getAudioLevels() {
    const levels = new Map();
    for (const [id, peer] of this.peers) levels.set(id, peer.audioLevel());
    return levels;
  }

  connectionState(id) {
    return this.peers.get(id)?.pc.connectionState || "new";
  }

  close() {
    for (const id of Array.from(this.peers.keys())) this.removePeer(id);
    this.local.clear();
  }
}
