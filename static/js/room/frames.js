// Coalescing work to the next animation frame: a burst of roster events (roster.batch, up to
// 250 people a message, several messages back to back) asks a view to re-render many times,
// the view renders once per frame. A timer backs the frame up, since a hidden tab gets no
// frames at all and must still be current when it is shown again.

const FALLBACK_MS = 250;

/** A function that schedules `fn` once for the next frame however often it is called;
 * `.flush()` runs a pending call now, `.cancel()` drops it. */
export function perFrame(fn) {
  let frame = 0;
  let timer = 0;
  const cancel = () => {
    cancelAnimationFrame(frame);
    clearTimeout(timer);
    frame = timer = 0;
  };
  const run = () => {
    cancel();
    fn();
  };
  const schedule = () => {
    if (frame || timer) return;
    frame = requestAnimationFrame(run);
    timer = setTimeout(run, FALLBACK_MS);
  };
  schedule.flush = () => {
    if (frame || timer) run();
  };
  schedule.cancel = cancel;
  return schedule;
}
