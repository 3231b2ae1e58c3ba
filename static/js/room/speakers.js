// Active speaker detection from audio levels: remote levels come from the transport
// (RTCRtpReceiver synchronization sources in the mesh), the local level from an AnalyserNode
// on the microphone. Emits "change" {speaking: Set(ids), active: id | null}; `active` is the
// loudest remote speaker, kept for a moment after they stop so the view does not flicker.

const POLL_MS = 200;
const SPEAKING_LEVEL = 0.02; // linear audio level (1.0 = 0 dBov)
const HOLD_MS = 1500;

export class SpeakerDetector extends EventTarget {
  constructor() {
    super();
    this.transport = null;
    this.selfId = null;
    this.localTrack = null;
    this.localMuted = true;
    this.context = null;
    this.analyser = null;
    this.source = null;
    this.samples = null;
    this.lastHeard = new Map();
    this.speaking = new Set();
    this.active = null;
    this.dominant = undefined; // the SFU's choice (RFC 6464 levels, with hysteresis), when there is one
    this.timer = null;
  }

  /** In SFU meetings the worker announces the dominant speaker; it decides `active`. */
  setDominant(id) {
    this.dominant = id === this.selfId ? this.active : id || null;
    this.tick();
  }

  start(transport, selfId) {
    this.transport = transport;
    this.selfId = selfId;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.source?.disconnect();
    this.context?.close().catch(() => {});
    this.context = this.analyser = this.source = null;
  }

  /** The microphone track to measure (null or a disabled track counts as silent). */
  setLocalTrack(track) {
    if (track === this.localTrack) return;
    this.localTrack = track;
    this.source?.disconnect();
    this.source = null;
    if (!track) return;
    try {
      this.context ||= new AudioContext();
      this.analyser ||= Object.assign(this.context.createAnalyser(), { fftSize: 512 });
      this.samples = new Float32Array(this.analyser.fftSize);
      this.source = this.context.createMediaStreamSource(new MediaStream([track]));
      this.source.connect(this.analyser);
    } catch (err) {
      console.warn("speakers: no local level meter", err);
    }
  }

  localLevel() {
    if (!this.analyser || !this.localTrack?.enabled) return 0;
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const sample of this.samples) sum += sample * sample;
    return Math.sqrt(sum / this.samples.length);
  }

  tick() {
    if (!this.transport) return;
    const now = performance.now();
    const levels = this.transport.getAudioLevels();
    if (this.selfId) levels.set(this.selfId, this.localLevel());
    let loudest = null;
    let loudestLevel = SPEAKING_LEVEL;
    for (const [id, level] of levels) {
      if (level >= SPEAKING_LEVEL) this.lastHeard.set(id, now);
      if (id !== this.selfId && level >= loudestLevel) {
        loudest = id;
        loudestLevel = level;
      }
    }
    const speaking = new Set();
    for (const [id, at] of this.lastHeard) {
      if (!levels.has(id)) this.lastHeard.delete(id);
      else if (now - at < 600) speaking.add(id);
    }
    let active = this.active;
    if (loudest && (!active || now - (this.lastHeard.get(active) || 0) > HOLD_MS || !levels.has(active))) active = loudest;
    if (active && !levels.has(active)) active = null;
    if (this.dominant !== undefined && this.transport.kind === "sfu") active = this.dominant;
    const changed =
      active !== this.active ||
      speaking.size !== this.speaking.size ||
      Array.from(speaking).some((id) => !this.speaking.has(id));
    this.speaking = speaking;
    this.active = active;
    if (changed) this.dispatchEvent(new CustomEvent("change", { detail: { speaking, active } }));
  }
}
