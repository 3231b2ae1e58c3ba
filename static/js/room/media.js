// The local side of media: microphone and camera (getUserMedia), device choice and switching,
// screen sharing (getDisplayMedia). It knows nothing of peers: it reports track changes with a
// "track" event ({slot, track}) and state changes with "change"; main.js hands tracks to the
// transport.
//
// Microphone off = the track is disabled (silence is sent, switching back is instant).
// Camera off = the camera is released (track stopped); turning it on opens it again.

const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO_CONSTRAINTS = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };
const STORAGE_KEY = "conference.devices";

function savedDevices() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
  } catch {
    return {};
  }
}

function describeError(err) {
  if (!err) return "";
  if (err.name === "NotAllowedError") return "Permission was denied. Allow access in the browser's site settings.";
  if (err.name === "NotFoundError") return "No such device was found.";
  if (err.name === "NotReadableError") return "The device is in use by another application.";
  return err.message || String(err);
}

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.audioTrack = null;
    this.videoTrack = null;
    this.screenTrack = null;
    this.micOn = true;
    this.camOn = true;
    this.started = false; // start() has finished (devices opened or refused)
    this.wanted = { mic: true, camera: true }; // choices made before start() finished
    this.devices = { audioinput: [], videoinput: [], audiooutput: [] };
    this.selected = { audioinput: "", videoinput: "", audiooutput: "", ...savedDevices() };
    this.errors = { audio: "", video: "" };
    navigator.mediaDevices?.addEventListener?.("devicechange", () => this.refreshDevices());
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  get supported() {
    return Boolean(navigator.mediaDevices?.getUserMedia);
  }

  get canShareScreen() {
    return Boolean(navigator.mediaDevices?.getDisplayMedia);
  }

  /** What we send, as media.state wants it. */
  get state() {
    return {
      audio: Boolean(this.audioTrack && this.micOn),
      video: Boolean(this.videoTrack && this.camOn),
      screen: Boolean(this.screenTrack),
    };
  }

  /** What the controls show: the state, or before the devices opened, what was chosen. */
  get intended() {
    if (this.started) return this.state;
    return { audio: this.wanted.mic, video: this.wanted.camera, screen: false };
  }

  /** Open microphone and camera for the preview; either may fail on its own. */
  async start() {
    if (!this.supported) {
      this.errors.audio = this.errors.video = "This browser cannot use a camera or microphone here (HTTPS is required).";
      this.emit("change");
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: this.constraints("audioinput"),
        video: this.constraints("videoinput"),
      });
      this.audioTrack = stream.getAudioTracks()[0] || null;
      this.videoTrack = stream.getVideoTracks()[0] || null;
      for (const [kind, track] of [["audio", this.audioTrack], ["video", this.videoTrack]]) {
        track?.addEventListener("ended", () => this.onTrackEnded(kind, track));
      }
    } catch {
      // One of the two may be missing or denied: try them apart.
      await this.openTrack("audio").catch(() => {});
      await this.openTrack("video").catch(() => {});
    }
    if (this.videoTrack && !this.wanted.camera) {
      this.videoTrack.stop();
      this.videoTrack = null;
    }
    if (this.audioTrack) this.audioTrack.enabled = this.wanted.mic;
    this.micOn = Boolean(this.audioTrack) && this.wanted.mic;
    this.camOn = Boolean(this.videoTrack);
    this.started = true;
    this.selectionFromTracks();
    // Someone may have joined before the devices opened: hand the tracks over now.
    this.emit("track", { slot: "audio", track: this.audioTrack });
    this.emit("track", { slot: "camera", track: this.videoTrack });
    await this.refreshDevices();
    this.emit("change");
  }

  constraints(kind) {
    const base = kind === "audioinput" ? AUDIO_CONSTRAINTS : VIDEO_CONSTRAINTS;
    const deviceId = this.selected[kind];
    return deviceId ? { ...base, deviceId: { exact: deviceId } } : { ...base };
  }

  async openTrack(kind) {
    const key = kind === "audio" ? "audioinput" : "videoinput";
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ [kind]: this.constraints(key) });
    } catch (err) {
      if (this.selected[key] && err.name === "OverconstrainedError") {
        this.selected[key] = ""; // the saved device is gone: use the default
        stream = await navigator.mediaDevices.getUserMedia({ [kind]: this.constraints(key) });
      } else {
        this.errors[kind] = describeError(err);
        this.emit("change");
        throw err;
      }
    }
    this.errors[kind] = "";
    const track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    if (kind === "audio") {
      this.audioTrack = track;
      track.enabled = this.micOn;
    } else {
      this.videoTrack = track;
    }
    track.addEventListener("ended", () => this.onTrackEnded(kind, track));
    return track;
  }

  onTrackEnded(kind, track) {
    // A device unplugged: drop the track; the user can pick another device.
    if (kind === "audio" && this.audioTrack === track) {
      this.audioTrack = null;
      this.emit("track", { slot: "audio", track: null });
    } else if (kind === "video" && this.videoTrack === track) {
      this.videoTrack = null;
      this.emit("track", { slot: "camera", track: null });
    }
    this.emit("change");
  }

  /** The devices actually opened become the selection (the browser may pick a default). */
  selectionFromTracks() {
    const fromTrack = (track) => track?.getSettings?.().deviceId || "";
    if (this.audioTrack) this.selected.audioinput = fromTrack(this.audioTrack) || this.selected.audioinput;
    if (this.videoTrack) this.selected.videoinput = fromTrack(this.videoTrack) || this.selected.videoinput;
    this.rememberSelection();
  }

  rememberSelection() {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(this.selected));
    } catch {
      // private mode: not remembered
    }
  }

  async refreshDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const list = await navigator.mediaDevices.enumerateDevices();
    this.devices = { audioinput: [], videoinput: [], audiooutput: [] };
    for (const device of list) {
      if (device.kind in this.devices && device.deviceId) this.devices[device.kind].push(device);
    }
    this.emit("devices");
  }

  async setMicEnabled(on) {
    if (!this.started) {
      this.wanted.mic = on;
      this.micOn = on;
      this.emit("change");
      return;
    }
    if (on && !this.audioTrack) {
      this.micOn = true;
      try {
        await this.openTrack("audio");
      } catch {
        this.micOn = false;
        this.emit("change");
        return;
      }
      this.emit("track", { slot: "audio", track: this.audioTrack });
    }
    this.micOn = on;
    if (this.audioTrack) this.audioTrack.enabled = on;
    this.emit("change");
  }

  async setCameraEnabled(on) {
    if (!this.started) {
      this.wanted.camera = on;
      this.camOn = on;
      this.emit("change");
      return;
    }
    if (on && !this.videoTrack) {
      try {
        await this.openTrack("video");
      } catch {
        this.camOn = false;
        this.emit("change");
        return;
      }
      this.camOn = true;
      this.emit("track", { slot: "camera", track: this.videoTrack });
    } else if (!on && this.videoTrack) {
      const old = this.videoTrack;
      this.videoTrack = null;
      this.camOn = false;
      this.emit("track", { slot: "camera", track: null });
      old.stop();
    }
    this.camOn = on && Boolean(this.videoTrack);
    this.emit("change");
  }

  /** Switch the microphone, camera or speaker; mid-call the new track replaces the old one. */
  async selectDevice(kind, deviceId) {
    this.selected[kind] = deviceId;
    this.rememberSelection();
    if (kind === "audiooutput") {
      this.emit("output", { deviceId });
      return;
    }
    const isAudio = kind === "audioinput";
    const old = isAudio ? this.audioTrack : this.videoTrack;
    if (!old) return; // applied the next time it is turned on
    try {
      const track = await this.openTrack(isAudio ? "audio" : "video");
      this.emit("track", { slot: isAudio ? "audio" : "camera", track });
      old.stop();
      this.selectionFromTracks();
    } catch {
      // openTrack recorded the error; the old track stays in use
    }
    this.emit("change");
  }

  async startScreenShare() {
    if (this.screenTrack) return this.screenTrack;
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    if ("contentHint" in track) track.contentHint = "detail";
    this.screenTrack = track;
    // The browser's own "Stop sharing" button ends the track.
    track.addEventListener("ended", () => {
      if (this.screenTrack === track) this.stopScreenShare();
    });
    this.emit("track", { slot: "screen", track });
    this.emit("change");
    return track;
  }

  stopScreenShare() {
    const track = this.screenTrack;
    if (!track) return;
    this.screenTrack = null;
    this.emit("track", { slot: "screen", track: null });
    track.stop();
    this.emit("change");
  }

  stopAll() {
    for (const track of [this.audioTrack, this.videoTrack, this.screenTrack]) track?.stop();
    this.audioTrack = this.videoTrack = this.screenTrack = null;
    this.emit("change");
  }
}
