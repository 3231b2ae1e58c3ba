// Picks the media transport for the topology the server announced in `joined.media`.
// Mesh today; an SFU transport implementing the same interface (see mesh.js) plugs in here.

import { MeshTransport } from "./mesh.js";

export function createTransport(media, { selfId, sendSignal }) {
  const topology = media?.topology || "mesh";
  if (topology === "mesh") return new MeshTransport({ selfId, sendSignal, iceServers: media?.ice_servers || [] });
  throw new Error(`This page does not support the “${topology}” media topology; please reload.`);
}
