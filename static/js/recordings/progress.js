// Recordings page: while a recording is pending or being composed, ask the REST API for its
// progress every few seconds and move its progress bar; reload once it is ready or failed
// (the page then shows the player, the download link or the reason). Without this script the
// page still works: reload it by hand.

const POLL_MS = 3000;
const list = document.querySelector(".recordings");

async function poll(item) {
  const url = `${list.dataset.api}${item.dataset.recordingId}/`;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return false;
    const data = await response.json();
    if (data.status === "ready" || data.status === "failed") {
      window.location.reload();
      return true;
    }
    const bar = item.querySelector('[data-role="progress"]');
    const percent = item.querySelector('[data-role="percent"]');
    const badge = item.querySelector('[data-role="status"]');
    if (bar) bar.value = data.progress;
    if (percent) percent.textContent = `${data.progress} %`;
    if (badge && data.status === "processing") badge.textContent = "Processing";
  } catch {
    // A network hiccup: try again at the next tick.
  }
  return false;
}

if (list) {
  const pending = [...list.querySelectorAll('[data-status="pending"], [data-status="processing"]')];
  if (pending.length) {
    const timer = setInterval(async () => {
      for (const item of pending) {
        if (await poll(item)) clearInterval(timer);
      }
    }, POLL_MS);
  }
}
