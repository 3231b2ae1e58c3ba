// The meeting WebSocket (docs/protocol.md): JSON messages with a `type`, reconnection with
// backoff. Resuming the participant (join with resume_token) is the session's business; this
// class only reports `open`, `message` and `close` and reconnects when the close was not final.
//
// Events: "open", "message" (detail: the message), "close" (detail: {code, final}),
// "reconnecting" (detail: {attempt, delay}).

// Close codes after which reconnecting is pointless or wrong (protocol.md, "Close codes").
const FINAL_CLOSE_CODES = new Set([1000, 1009, 4403, 4404, 4409, 4413, 4429]);
const PING_INTERVAL_MS = 25_000;
const MAX_BACKOFF_MS = 8_000;

/** ws:// or wss:// URL for a path, from the page's own origin. */
export function socketUrl(path) {
  const url = new URL(path, window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export class Signaling extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastCloseCode = null;
    this.onOnline = () => {
      if (!this.connected && !this.stopped) this.reconnectNow();
    };
    window.addEventListener("online", this.onOnline);
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send("ping"), PING_INTERVAL_MS);
      this.dispatchEvent(new CustomEvent("open"));
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws || typeof event.data !== "string") return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.warn("signaling: ignoring a frame that is not JSON");
        return;
      }
      if (message && typeof message.type === "string") {
        this.dispatchEvent(new CustomEvent("message", { detail: message }));
      }
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      clearInterval(this.pingTimer);
      this.ws = null;
      this.lastCloseCode = event.code;
      const final = this.stopped || FINAL_CLOSE_CODES.has(event.code);
      this.dispatchEvent(new CustomEvent("close", { detail: { code: event.code, reason: event.reason, final } }));
      if (!final) this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    this.attempt += 1;
    const delay = Math.min(MAX_BACKOFF_MS, 400 * 2 ** (this.attempt - 1)) * (0.8 + Math.random() * 0.4);
    this.dispatchEvent(new CustomEvent("reconnecting", { detail: { attempt: this.attempt, delay } }));
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** Send a message; false when the socket is not open (the message is dropped). */
  send(type, fields = {}) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify({ type, ...fields }));
    return true;
  }

  /** Close for good (no reconnection). */
  close(code = 1000) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    window.removeEventListener("online", this.onOnline);
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code);
  }
}
