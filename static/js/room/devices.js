// Device pickers (microphone, camera, speaker) bound to LocalMedia. The same three <select>s
// serve the prejoin screen and, moved into the settings dialog, the call.

import { h } from "./ui.js";

const KINDS = [
  ["audioinput", "mic-select", "Microphone"],
  ["videoinput", "camera-select", "Camera"],
  ["audiooutput", "speaker-select", "Speaker"],
];

export class DevicePickers {
  constructor({ root, media }) {
    this.root = root;
    this.media = media;
    this.selects = new Map();
    for (const [kind, id] of KINDS) {
      const select = root.querySelector(`#${id}`);
      if (!select) continue;
      this.selects.set(kind, select);
      select.addEventListener("change", () => media.selectDevice(kind, select.value));
    }
    media.addEventListener("devices", () => this.render());
    media.addEventListener("change", () => this.render());
  }

  render() {
    for (const [kind, fallback] of KINDS.map(([k, , label]) => [k, label])) {
      const select = this.selects.get(kind);
      if (!select) continue;
      const devices = this.media.devices[kind];
      const field = select.closest(".device-field");
      if (kind === "audiooutput" && !("setSinkId" in HTMLMediaElement.prototype)) {
        if (field) field.hidden = true;
        continue;
      }
      const options = devices.map((device, index) =>
        h("option", { value: device.deviceId, text: device.label || `${fallback} ${index + 1}` }),
      );
      if (!options.length) options.push(h("option", { value: "", text: `No ${fallback.toLowerCase()} found` }));
      const wanted = this.media.selected[kind];
      select.replaceChildren(...options);
      select.value = devices.some((d) => d.deviceId === wanted) ? wanted : options[0].value;
      select.disabled = devices.length === 0;
    }
  }
}
