// Connection quality from getStats(): round-trip time of the selected candidate pair and the
// share of packets lost since the last poll, per peer. Emits "change"
// {perPeer: Map(id → quality), overall} where quality is good, fair, poor or connecting.

const POLL_MS = 2000;
const ORDER = ["good", "fair", "poor", "connecting"];

function worst(a, b) {
  return ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b;
}

export function rate({ connected, rtt, loss }) {
  if (!connected) return "connecting";
  if (rtt > 0.5 || loss > 0.1) return "poor";
  if (rtt > 0.25 || loss > 0.03) return "fair";
  return "good";
}

/** {rtt (s), received, lost, connected} from one RTCStatsReport. */
export function summarize(report) {
  let rtt = 0;
  let received = 0;
  let lost = 0;
  let connected = false;
  let selectedPair = null;
  report.forEach((stat) => {
    if (stat.type === "transport" && stat.selectedCandidatePairId) selectedPair = stat.selectedCandidatePairId;
  });
  report.forEach((stat) => {
    if (stat.type === "candidate-pair" && (stat.id === selectedPair || (!selectedPair && stat.nominated && stat.state === "succeeded"))) {
      connected = stat.state === "succeeded";
      rtt = stat.currentRoundTripTime || 0;
    } else if (stat.type === "inbound-rtp") {
      received += stat.packetsReceived || 0;
      lost += Math.max(0, stat.packetsLost || 0);
    }
  });
  return { rtt, received, lost, connected };
}

export class QualityMonitor extends EventTarget {
  constructor() {
    super();
    this.transport = null;
    this.previous = new Map();
    this.timer = null;
    this.overall = "good";
  }

  start(transport) {
    this.transport = transport;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async poll() {
    if (!this.transport) return;
    const reports = await this.transport.getStats();
    const perPeer = new Map();
    let overall = "good";
    for (const [id, report] of reports) {
      const now = summarize(report);
      const before = this.previous.get(id) || { received: 0, lost: 0 };
      const received = now.received - before.received;
      const lost = now.lost - before.lost;
      const loss = received + lost > 0 ? lost / (received + lost) : 0;
      this.previous.set(id, now);
      const quality = rate({ connected: now.connected, rtt: now.rtt, loss });
      perPeer.set(id, quality);
      overall = worst(overall, quality);
    }
    for (const id of this.previous.keys()) if (!reports.has(id)) this.previous.delete(id);
    this.overall = overall;
    this.dispatchEvent(new CustomEvent("change", { detail: { perPeer, overall } }));
  }
}
