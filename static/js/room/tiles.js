// The video area: one tile per participant shown (camera video or avatar, name, mic and hand
// badges), the stage (a shared screen, or the featured speaker in speaker view) and the hidden
// <audio> elements that play remote microphones.
//
// A big room shows one page of tiles at a time (as many as fit, up to MAX_TILES): you first,
// then the others of the page (last-n.js: the first page is the recent speakers, then people
// with video); "Previous / Next page of videos" turn the pages. Only the tiles shown exist: the
// others have no <video> at all. Renders are coalesced to one per animation frame (frames.js).
//
// Test hooks: every <video> carries data-participant-id and data-kind ("camera" or "screen");
// the stage is the region named "Stage".

import { h, hueFor, initials, replaceChildren } from "./ui.js";
import { icon, signalBars } from "./icons.js";
import { perFrame } from "./frames.js";
import { LastN } from "./last-n.js";
import { PageControls } from "./gallery-pages.js";

const GAP = 8;
const RATIO = 16 / 9;
const MAX_TILES = 25; // a page of the gallery, at the most
const MIN_TILE_WIDTH = 160; // px: a page holds no more tiles than fit at this size

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
    // Made with the first track: a <video> is costly to create and insert, and in a big room
    // most tiles on a page never get one (the SFU sends a few cameras).
    this.video = null;
    this.videoLabel = "";
    this.shown = null; // what update() last showed
    this.avatar = h("span", { class: "avatar-circle large", "aria-hidden": "true" });
    this.avatar.style.setProperty("--hue", String(hueFor(participant.id)));
    this.name = h("span", { class: "tile-name" });
    this.mic = h("span", { class: "tile-mic", role: "img" }, icon("micOff", { size: 18 }));
    this.hand = h("span", { class: "tile-hand", role: "img" }, icon("hand", { size: 18 }));
    this.quality = null; // the signal bars, made when the connection is first poor or fair
    this.top = h("div", { class: "tile-top" }, this.hand);
    this.el = h(
      "div",
      { class: `tile${isSelf ? " self" : ""}`, role: "group", dataset: { participantId: participant.id } },
      h("div", { class: "tile-avatar" }, this.avatar),
      this.top,
      h("div", { class: "tile-bottom" }, this.mic, this.name),
    );
    this.update(participant);
  }

  update(participant) {
    const name = participant.name || "Someone";
    const shown = JSON.stringify([name, participant.audio, participant.video, Boolean(participant.hand), Boolean(this.track)]);
    if (shown === this.shown) return;
    this.shown = shown;
    const label = this.isSelf ? `${name} (You)` : name;
    this.el.setAttribute("aria-label", label);
    this.name.textContent = this.isSelf ? "You" : name;
    this.avatar.textContent = initials(name);
    this.videoLabel = this.isSelf ? "Your camera" : `${name}'s camera`;
    this.video?.setAttribute("aria-label", this.videoLabel);
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
    if (track && !this.video) {
      this.video = videoElement(this.id, "camera", this.videoLabel);
      this.el.prepend(this.video);
    }
    if (this.video) attach(this.video, track);
  }

  setQuality(quality, name) {
    const bad = quality === "poor" || quality === "fair";
    if (!bad && !this.quality) return;
    if (!this.quality) {
      this.quality = h("span", { class: "tile-quality", role: "img" }, signalBars());
      this.top.append(this.quality);
    }
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
    this.tiles = new Map(); // only those shown: you, the page, the featured speaker
    this.screens = new Map();
    this.audios = new Map();
    this.remoteVideo = new Map(); // participant id → camera track
    this.remoteScreen = new Map(); // participant id → screen track
    this.mode = "gallery";
    this.active = null;
    this.speaking = new Set();
    this.screenOrder = []; // ids, the latest sharer last
    this.sinkId = "";
    this.lastN = new LastN();
    this.page = 0;
    this.pageIds = []; // the others on the page shown
    this.pageSize = 0; // tiles a page, at the last render
    this.pager = new PageControls((page) => {
      this.page = page;
      this.render();
    });
    area.append(this.pager.el);
    this.scheduled = perFrame(() => this.renderNow());
    // The gallery's size as the observer last saw it: reading it from the DOM in a render would
    // force a layout in the middle of the frame.
    this.size = null;
    new ResizeObserver((entries) => {
      const { width, height } = entries.at(-1).contentRect;
      this.size = { width, height };
      this.layout();
    }).observe(gallery);
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
    const heard = [...speaking, active].filter((id) => id && id !== this.roster.selfId);
    // A speaker from outside the first page takes a place on it.
    const newcomer = this.lastN.heard(heard);
    for (const [id, tile] of this.tiles) tile.el.classList.toggle("speaking", speaking.has(id));
    if (featuredChanged || newcomer) this.render();
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

  /** Renders in the next frame, however many changes come before it. */
  render() {
    this.scheduled();
  }

  renderNow() {
    this.scheduled.cancel();
    const selfId = this.roster.selfId;
    const people = this.roster.list();
    const others = people.filter((p) => p.id !== selfId);
    const self = this.roster.self;
    this.pageSize = this.fittingTiles();
    const pages = this.lastN.pages(others, Math.max(1, this.pageSize - (self ? 1 : 0)));
    this.page = Math.min(this.page, pages.length - 1);
    this.pageIds = pages[this.page];
    this.pager.show(this.page, pages.length);

    const presenterId = this.presenter();
    let featuredId = null;
    if (!presenterId && this.mode === "speaker" && others.length) {
      featuredId = others.some((p) => p.id === this.active) ? this.active : pages[0][0];
    }
    const shown = [...(self ? [self.id] : []), ...this.pageIds];
    if (featuredId && !shown.includes(featuredId)) shown.push(featuredId);
    this.syncTiles(shown);

    const featured = presenterId ? this.screenView(presenterId).el : featuredId ? this.tiles.get(featuredId).el : null;
    this.dropScreens(presenterId);
    if (featured) {
      if (this.stage.firstElementChild !== featured || this.stage.children.length !== 1) {
        replaceChildren(this.stage, featured);
      }
      this.stage.hidden = false;
    } else {
      this.stage.replaceChildren();
      this.stage.hidden = true;
    }
    const stripTiles = shown.map((id) => this.tiles.get(id).el).filter((el) => el !== featured);
    stripTiles.forEach((el, index) => {
      if (this.gallery.children[index] !== el) this.gallery.insertBefore(el, this.gallery.children[index] || null);
    });
    while (this.gallery.children.length > stripTiles.length) this.gallery.lastElementChild.remove();
    this.area.classList.toggle("with-stage", Boolean(featured));
    this.area.classList.toggle("presenting", Boolean(presenterId));
    this.layout();
  }

  /** Tiles for exactly these ids (made, brought up to date; the others' removed). */
  syncTiles(ids) {
    const selfId = this.roster.selfId;
    const wanted = new Set(ids);
    for (const [id, tile] of this.tiles) {
      if (!wanted.has(id)) {
        tile.setTrack(null);
        tile.el.remove();
        this.tiles.delete(id);
      }
    }
    for (const id of ids) {
      const participant = this.roster.get(id);
      const isSelf = id === selfId;
      let tile = this.tiles.get(id);
      if (!tile) {
        tile = new Tile(participant, isSelf);
        this.tiles.set(id, tile);
      }
      tile.setTrack(isSelf ? this.media.videoTrack : this.remoteVideo.get(id) || null);
      tile.update(isSelf ? { ...participant, ...this.media.state } : participant);
      tile.el.classList.toggle("speaking", this.speaking.has(id));
    }
  }

  screenView(presenterId) {
    const selfId = this.roster.selfId;
    let view = this.screens.get(presenterId);
    if (!view) {
      view = new ScreenView(presenterId);
      this.screens.set(presenterId, view);
    }
    view.update(this.roster.name(presenterId), presenterId === selfId);
    view.setTrack(presenterId === selfId ? this.media.screenTrack : this.remoteScreen.get(presenterId));
    return view;
  }

  dropScreens(keepId) {
    for (const [id, view] of this.screens) {
      if (id !== keepId) {
        view.el.remove();
        view.setTrack(null);
        this.screens.delete(id);
      }
    }
  }

  /** What this page shows of the others, for the SFU (`media.view`): the remote tiles shown (the
   * most relevant first), who is on the stage, and the height in device pixels of each remote
   * camera tile (the worker picks the quality layer). */
  view() {
    const selfId = this.roster.selfId;
    const sizes = {};
    for (const [id, tile] of this.tiles) {
      if (id !== selfId && tile.el.isConnected) sizes[id] = Math.round(tile.el.clientHeight * (window.devicePixelRatio || 1));
    }
    let stage = this.presenter();
    if (!stage && this.mode === "speaker") stage = this.active;
    stage = stage && stage !== selfId ? stage : null;
    // The worker fills its video slots from the front of the list: the stage, then by rank.
    const tiles = this.lastN.byRank(Object.keys(sizes)).sort((a, b) => (b === stage) - (a === stage));
    return { stage, sizes, tiles };
  }

  /** How many tiles a page holds: as many as fit at MIN_TILE_WIDTH, up to MAX_TILES (the
   * filmstrip beside a stage scrolls, as it always did: a full page). */
  fittingTiles() {
    const { width, height } = this.gallerySize();
    if (this.area.classList.contains("with-stage")) return MAX_TILES;
    if (!width || !height) return this.pageSize || MAX_TILES;
    const cols = Math.max(1, Math.floor((width + GAP) / (MIN_TILE_WIDTH + GAP)));
    const rows = Math.max(1, Math.floor((height + GAP) / (MIN_TILE_WIDTH / RATIO + GAP)));
    return Math.min(MAX_TILES, cols * rows);
  }

  /** After a render or a resize: the tiles' size, the page size, then the SFU's view. */
  layout() {
    this.layoutGallery();
    if (this.roster.selfId && this.fittingTiles() !== this.pageSize) this.render();
    this.onLayout();
  }

  gallerySize() {
    this.size ||= { width: this.gallery.clientWidth, height: this.gallery.clientHeight };
    return this.size;
  }

  /** Gallery sizes: the column count that gives the largest 16:9 tiles in the space. */
  layoutGallery() {
    const count = this.gallery.children.length;
    if (!count) return;
    if (this.area.classList.contains("with-stage")) {
      this.gallery.style.removeProperty("--tile-w");
      this.gallery.style.removeProperty("--tile-h");
      return;
    }
    const { width, height } = this.gallerySize();
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
