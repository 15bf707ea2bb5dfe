import { newMediaCounters } from '../../ingest-container/src/metrics';
import { MediaClock } from '../../ingest-container/src/room/clock';

/** Holds the event loop for `ms`, as a server short of CPU does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('media clock', () => {
  it('counts the ticks it runs a frame or more late into the server counts', async () => {
    const counters = newMediaCounters();
    const clock = new MediaClock(() => undefined, counters);
    let stalled = false;
    const staller = {
      tick: () => {
        if (stalled) return;
        stalled = true;
        busy(110);
      },
    };
    clock.add(staller);
    await new Promise((resolve) => setTimeout(resolve, 200));
    clock.delete(staller);
    // 110 ms held: the next run finds at least 4 ticks due a frame or more ago (run back to back, or skipped).
    expect(counters.lateTicks).toBeGreaterThanOrEqual(4);
  });
});
