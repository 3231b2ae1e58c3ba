// Picks the media transport for the topology the server announced (`joined.media`, or a later
// `media.topology`): peer-to-peer (mesh.js) or through the meeting's SFU worker (sfu.js). Both
// implement the interface described at the top of mesh.js.

import { MeshTransport } from "./mesh.js";
import { SfuTransport } from "./sfu.js";

export function createTransport(media, { selfId, sendSignal, send }) {
  const topology = media?.topology || "mesh";
  const iceServers = media?.ice_servers || [];
  if (topology === "mesh") return new MeshTransport({ selfId, sendSignal, iceServers });
  if (topology === "sfu") {
    return new SfuTransport({ selfId, send, iceServers, audioSlots: media.audio_slots, videoSlots: media.video_slots });
  }
  throw new Error(`This page does not support the “${topology}” media topology; please reload.`);
}
