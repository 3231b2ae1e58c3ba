// The video area: one tile per participant (camera video or avatar, name, mic and hand badges),
// the stage (a shared screen, or the featured speaker in speaker view) and the hidden <audio>
// elements that play remote microphones.
//
// Test hooks: every <video> carries data-participant-id and data-kind ("camera" or "screen");
// the stage is the region named "Stage".

import { h, hueFor, initials, replaceChildren } from "./ui.js";
import { icon, signalBars } from "./icons.js";

const GAP = 8;
const RATIO = 16 / 9;

function videoElement(participantId, kind, label) {
  const video = h("video", {
    class: `${kind}-video`,
    autoplay: true,
    playsinline: true,
    "aria-label": label,
    dataset: { participantId, kind },
  });
  video.muted = true; // sound goes through the <audio> elements
  return video;
}

function attach(video, track) {
  const current = video.srcObject?.getVideoTracks?.()[0] || null;
  if (current === track) return;
  video.srcObject = track ? new MediaStream([track]) : null;
  if (track) video.play().catch(() => {});
}

class Tile {
  constructor(participant, isSelf) {
    this.id = participant.id;
    this.isSelf = isSelf;
    this.track = null;
    this.video = videoElement(participant.id, "camera", "");
    this.avatar = h("span", { class: "avatar-circle large", "aria-hidden": "true" });
    this.avatar.style.setProperty("--hue", String(hueFor(participant.id)));
    this.name = h("span", { class: "tile-name" });
    this.mic = h("span", { class: "tile-mic", role: "img" }, icon("micOff", { size: 18 }));
    this.hand = h("span", { class: "tile-hand", role: "img" }, icon("hand", { size: 18 }));
    this.quality = h("span", { class: "tile-quality", role: "img", hidden: true }, signalBars());
    this.el = h(
      "div",
      { class: `tile${isSelf ? " self" : ""}`, role: "group", dataset: { participantId: participant.id } },
      this.video,
      h("div", { class: "tile-avatar" }, this.avatar),
      h("div", { class: "tile-top" }, this.hand, this.quality),
      h("div", { class: "tile-bottom" }, this.mic, this.name),
    );
    this.update(participant);
  }

  update(participant) {
    const name = participant.name || "Someone";
    const label = this.isSelf ? `${name} (You)` : name;
    this.el.setAttribute("aria-label", label);
    this.name.textContent = this.isSelf ? "You" : name;
    this.avatar.textContent = initials(name);
    this.video.setAttribute("aria-label", this.isSelf ? "Your camera" : `${name}'s camera`);
    const micOff = !participant.audio;
    this.mic.hidden = !micOff;
    this.mic.setAttribute("aria-label", `${name}: microphone off`);
    this.hand.hidden = !participant.hand;
    this.hand.setAttribute("aria-label", `${name}: hand raised`);
    const videoOn = Boolean(participant.video) && Boolean(this.track);
    this.el.classList.toggle("video-off", !videoOn);
  }

  setTrack(track) {
    this.track = track;
    attach(this.video, track);
  }

  setQuality(quality, name) {
    const bad = quality === "poor" || quality === "fair";
    this.quality.hidden = !bad;
    this.quality.dataset.quality = quality;
    this.quality.setAttribute("aria-label", `Connection to ${name}: ${quality}`);
  }
}

class ScreenView {
  constructor(participantId) {
    this.id = participantId;
    this.track = null;
    this.video = videoElement(participantId, "screen", "Shared screen");
    this.label = h("div", { class: "screen-label" });
    this.el = h("div", { class: "screen-view", dataset: { participantId } }, this.video, this.label);
  }

  update(name, isSelf) {
    this.label.textContent = isSelf ? "You are presenting" : `${name} is presenting`;
    this.video.setAttribute("aria-label", isSelf ? "Your shared screen" : `${name}'s screen`);
  }

  setTrack(track) {
    this.track = track;
    attach(this.video, track);
  }
}

export class TilesView {
  constructor({ area, stage, gallery, audioHost, roster, media, onLayout = () => {} }) {
    this.onLayout = onLayout; // called after every layout (the SFU transport sends media.view)
    this.area = area;
    this.stage = stage;
    this.gallery = gallery;
    this.audioHost = audioHost;
    this.roster = roster;
    this.media = media;
    this.tiles = new Map();
    this.screens = new Map();
    this.audios = new Map();
    this.remoteVideo = new Map(); // participant id → camera track
    this.remoteScreen = new Map(); // participant id → screen track
    this.mode = "gallery";
    this.active = null;
    this.speaking = new Set();
    this.screenOrder = []; // ids, the latest sharer last
    this.sinkId = "";
    new ResizeObserver(() => this.layout()).observe(gallery);
  }

  setMode(mode) {
    this.mode = mode;
    this.render();
  }

  /** A remote participant's track for a slot; null takes it away (the SFU moved the slot on). */
  setRemoteTrack(participantId, slot, track) {
    if (!track) {
      if (slot === "audio") {
        this.audios.get(participantId)?.remove();
        this.audios.delete(participantId);
      } else (slot === "screen" ? this.remoteScreen : this.remoteVideo).delete(participantId);
      this.render();
      return;
    }
    if (slot === "audio") {
      let audio = this.audios.get(participantId);
      if (!audio) {
        audio = h("audio", { autoplay: true, dataset: { participantId } });
        this.audios.set(participantId, audio);
        this.audioHost.append(audio);
        if (this.sinkId && audio.setSinkId) audio.setSinkId(this.sinkId).catch(() => {});
      }
      audio.srcObject = new MediaStream([track]);
      audio.play().catch(() => {});
    } else if (slot === "screen") {
      this.remoteScreen.set(participantId, track);
    } else {
      this.remoteVideo.set(participantId, track);
    }
    this.render();
  }

  dropParticipant(participantId) {
    this.audios.get(participantId)?.remove();
    this.audios.delete(participantId);
    this.remoteVideo.delete(participantId);
    this.remoteScreen.delete(participantId);
  }

  setOutputDevice(deviceId) {
    this.sinkId = deviceId;
    for (const audio of this.audios.values()) {
      if (audio.setSinkId) audio.setSinkId(deviceId).catch(() => {});
    }
  }

  setSpeaking(speaking, active) {
    this.speaking = speaking;
    const featuredChanged = this.mode === "speaker" && active !== this.active;
    this.active = active;
    for (const [id, tile] of this.tiles) tile.el.classList.toggle("speaking", speaking.has(id));
    if (featuredChanged) this.render();
  }

  setQuality(perPeer) {
    for (const [id, quality] of perPeer) this.tiles.get(id)?.setQuality(quality, this.roster.name(id));
  }

  /** The participant whose screen goes on the stage: the latest to start sharing. */
  presenter() {
    const sharing = this.roster.list().filter((p) =>
      p.id === this.roster.selfId ? Boolean(this.media.screenTrack) : p.screen && this.remoteScreen.has(p.id),
    );
    for (const p of sharing) if (!this.screenOrder.includes(p.id)) this.screenOrder.push(p.id);
    this.screenOrder = this.screenOrder.filter((id) => sharing.some((p) => p.id === id));
    // Someone else's screen wins over your own.
    const others = this.screenOrder.filter((id) => id !== this.roster.selfId);
    return others.at(-1) || this.screenOrder.at(-1) || null;
  }

  render() {
    const selfId = this.roster.selfId;
    const people = this.roster.list();
    const present = new Set(people.map((p) => p.id));
    for (const [id, tile] of this.tiles) {
      if (!present.has(id)) {
        tile.el.remove();
        this.tiles.delete(id);
      }
    }
    for (const [id, view] of this.screens) {
      if (!present.has(id)) {
        view.el.remove();
        this.screens.delete(id);
      }
    }
    for (const participant of people) {
      const isSelf = participant.id === selfId;
      let tile = this.tiles.get(participant.id);
      if (!tile) {
        tile = new Tile(participant, isSelf);
        this.tiles.set(participant.id, tile);
      }
      tile.setTrack(isSelf ? this.media.videoTrack : this.remoteVideo.get(participant.id) || null);
      const state = isSelf ? { ...participant, ...this.media.state } : participant;
      tile.update(state);
      tile.el.classList.toggle("speaking", this.speaking.has(participant.id));
    }

    const presenterId = this.presenter();
    let featured = null;
    if (presenterId) {
      let view = this.screens.get(presenterId);
      if (!view) {
        view = new ScreenView(presenterId);
        this.screens.set(presenterId, view);
      }
      view.update(this.roster.name(presenterId), presenterId === selfId);
      view.setTrack(presenterId === selfId ? this.media.screenTrack : this.remoteScreen.get(presenterId));
      featured = view.el;
    } else if (this.mode === "speaker" && people.length > 1) {
      const others = people.filter((p) => p.id !== selfId);
      const id = others.some((p) => p.id === this.active) ? this.active : others[0].id;
      featured = this.tiles.get(id).el;
    }
    for (const [id, view] of this.screens) {
      if (id !== presenterId) {
        view.el.remove();
        view.setTrack(null);
        this.screens.delete(id);
      }
    }

    if (featured) {
      if (this.stage.firstElementChild !== featured || this.stage.children.length !== 1) {
        replaceChildren(this.stage, featured);
      }
      this.stage.hidden = false;
    } else {
      this.stage.replaceChildren();
      this.stage.hidden = true;
    }
    const stripTiles = people.map((p) => this.tiles.get(p.id).el).filter((el) => el !== featured);
    stripTiles.forEach((el, index) => {
      if (this.gallery.children[index] !== el) this.gallery.insertBefore(el, this.gallery.children[index] || null);
    });
    while (this.gallery.children.length > stripTiles.length) this.gallery.lastElementChild.remove();
    this.area.classList.toggle("with-stage", Boolean(featured));
    this.area.classList.toggle("presenting", Boolean(presenterId));
    this.layout();
  }

  /** What this page shows of the others, for the SFU (`media.view`): who is on the stage and
   * the height in CSS pixels of each remote camera tile (the worker picks the quality layer). */
  view() {
    const selfId = this.roster.selfId;
    const sizes = {};
    for (const [id, tile] of this.tiles) {
      if (id !== selfId && tile.el.isConnected) sizes[id] = Math.round(tile.el.clientHeight * (window.devicePixelRatio || 1));
    }
    let stage = this.presenter();
    if (!stage && this.mode === "speaker") stage = this.active;
    return { stage: stage && stage !== selfId ? stage : null, sizes };
  }

  /** Gallery sizes: the column count that gives the largest 16:9 tiles in the space. */
  layout() {
    this.layoutGallery();
    this.onLayout();
  }

  layoutGallery() {
    const count = this.gallery.children.length;
    if (!count) return;
    if (this.area.classList.contains("with-stage")) {
      this.gallery.style.removeProperty("--tile-w");
      this.gallery.style.removeProperty("--tile-h");
      return;
    }
    const width = this.gallery.clientWidth;
    const height = this.gallery.clientHeight;
    if (!width || !height) return;
    let best = { w: 0, h: 0 };
    for (let cols = 1; cols <= count; cols += 1) {
      const rows = Math.ceil(count / cols);
      const w = Math.min((width - GAP * (cols - 1)) / cols, ((height - GAP * (rows - 1)) / rows) * RATIO);
      if (w > best.w) best = { w, h: w / RATIO };
    }
    this.gallery.style.setProperty("--tile-w", `${Math.floor(best.w)}px`);
    this.gallery.style.setProperty("--tile-h", `${Math.floor(best.h)}px`);
  }
}
