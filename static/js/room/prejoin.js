// The prejoin screen: camera preview, microphone / camera toggles, device pickers, the guest's
// name and the passcode; then "Join now". It also shows the waiting-room state, keeping the
// preview, as Meet does.

export class Prejoin {
  constructor({ root, media, config, onJoin, onCancel }) {
    this.root = root;
    this.media = media;
    this.config = config;
    this.video = root.querySelector("#preview-video");
    this.off = root.querySelector("#preview-off");
    this.error = root.querySelector("#preview-error");
    this.form = root.querySelector("#join-form");
    this.nameInput = root.querySelector("#display-name");
    this.passcodeInput = root.querySelector("#passcode");
    this.joinError = root.querySelector("#join-error");
    this.joinButton = root.querySelector("#join-button");
    this.joinPanel = root.querySelector("#join-panel");
    this.waitingPanel = root.querySelector("#waiting-panel");
    this.busy = false;

    if (this.nameInput) {
      try {
        this.nameInput.value = localStorage.getItem("conference.guestName") || "";
      } catch {
        // no storage
      }
    }
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(onJoin);
    });
    root.querySelector("[data-action=cancel-waiting]").addEventListener("click", onCancel);
    media.addEventListener("change", () => this.renderPreview());
    media.addEventListener("track", () => this.renderPreview());
  }

  renderPreview() {
    const track = this.media.videoTrack;
    const current = this.video.srcObject?.getVideoTracks?.()[0] || null;
    if (current !== track) this.video.srcObject = track ? new MediaStream([track]) : null;
    this.off.hidden = Boolean(track && this.media.camOn);
    this.video.hidden = !this.off.hidden;
    const problems = [this.media.errors.video && `Camera: ${this.media.errors.video}`, this.media.errors.audio && `Microphone: ${this.media.errors.audio}`].filter(Boolean);
    this.error.hidden = problems.length === 0;
    this.error.textContent = problems.join(" ");
  }

  submit(onJoin) {
    if (this.busy) return;
    const displayName = this.nameInput ? this.nameInput.value.trim() : "";
    if (this.nameInput && !displayName) {
      this.showError("Enter your name to join.", this.nameInput);
      return;
    }
    const passcode = this.passcodeInput ? this.passcodeInput.value : "";
    if (this.passcodeInput && !passcode) {
      this.showError("Enter the meeting's passcode.", this.passcodeInput);
      return;
    }
    if (this.nameInput) {
      try {
        localStorage.setItem("conference.guestName", displayName);
      } catch {
        // no storage
      }
    }
    this.showError("");
    this.setBusy(true);
    onJoin({ displayName, passcode });
  }

  setBusy(busy) {
    this.busy = busy;
    this.joinButton.disabled = busy;
    this.joinButton.textContent = busy ? "Joining…" : "Join now";
  }

  showError(message, field = null) {
    this.joinError.textContent = message;
    this.joinError.hidden = !message;
    for (const input of [this.nameInput, this.passcodeInput]) {
      if (input) input.removeAttribute("aria-invalid");
    }
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  /** After a refused join: {code, message, field}. */
  joinRefused({ code, message, field }) {
    this.setBusy(false);
    if (code === "wrong_passcode") this.showError("Wrong passcode. Try again.", this.passcodeInput);
    else if (field === "display_name") this.showError(message, this.nameInput);
    else this.showError(message || "You could not join.");
  }

  showWaiting(waiting) {
    this.joinPanel.hidden = waiting;
    this.waitingPanel.hidden = !waiting;
    if (!waiting) this.setBusy(false);
  }
}
