import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { apiRequest, waitFor, type LocalProcess } from './local-process';

/**
 * While a flood goes on: three pairs of V3-signed calls (`calls`, filled as they are placed, so the caller hangs them
 * all up whatever fails) are answered 200 with a `<Stream>` and each pair's audio reaches the other caller; the REST
 * API is asked after each pair. Returns its statuses. Under load some frames may be late, so each call waits for 40.
 */
export async function realCallsHeard(stack: LocalProcess, answerUrl: string, authToken: string, from: string, calls: SimulatedCall[]): Promise<number[]> {
  const restStatuses: number[] = [];
  for (let pair = 0; pair < 3; pair++) {
    const a = new SimulatedCall({ answerUrl, authToken, from: `${from}0${pair}` });
    const b = new SimulatedCall({ answerUrl, authToken, from: `${from}1${pair}` });
    calls.push(a, b);
    await Promise.all([a.start(), b.start()]); // throws unless the Answer URL replies 200 with a <Stream>
    restStatuses.push((await apiRequest(stack, 'GET', '/v2/connectors')).status);
  }
  await Promise.all(calls.map((call, i) => call.play(tone(i % 2 ? 1400 : 600, 1))));
  for (const [i, call] of calls.entries()) {
    await waitFor(() => (call.received.length >= 40 ? true : undefined), 10_000);
    expect(toneLevel(call.receivedPcm().subarray(10 * 160), i % 2 ? 600 : 1400)).toBeGreaterThan(4000);
  }
  return restStatuses;
}
