import { mulawEncode } from '../../core/mulaw';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { apiRequest, waitFor, type LocalProcess } from './local-process';
import { flatCalls } from './calls';

/** Calls placed on chosen media servers of an `npm start` process (`MEDIA_SERVERS` > 1), bypassing its balancer. */
export function mediaServers(local: () => LocalProcess) {
  const api = (method: string, path: string, body?: unknown) => apiRequest(local(), method, path, body);
  const server = (i: number) => {
    const found = local().info.mediaServers[i];
    if (!found) throw new Error(`no media server ${i}`);
    return found;
  };
  return {
    api,
    server,
    /** A stream URL from the Answer URL's XML, pointed straight at media server `i`. */
    onServer: (streamUrl: string, i: number) => streamUrl.replace(/^ws:\/\/[^/]+/, server(i).url),
    /** A connector of the demo tenant whose calls all go to `room`; its Answer URL. */
    connectorFor: async (room: string): Promise<string> => {
      const { data } = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: room });
      return data.webhookUrl as string;
    },
    /** A simulated call answered through the API, its stream opened on media server `i`. */
    callOn: async (answerUrl: string, i: number, from: string): Promise<SimulatedCall> => {
      const call = new SimulatedCall({ answerUrl, from });
      await call.connect((await call.answer()).replace(/^ws:\/\/[^/]+/, server(i).url));
      return call;
    },
    /** The call's record once it has `status`. */
    callRecord: (call: SimulatedCall, status: string, timeoutMs = 5000) =>
      waitFor(async () => {
        const { data } = await api('GET', '/v2/sip/call?perPage=100');
        return flatCalls({ data }).find((c) => c.callUuid === call.callUuid && c.status === status);
      }, timeoutMs),
  };
}

/**
 * Two 8 kHz callers talk at once (600 and 1400 Hz for 1.5 s): each hears the other and not itself, and what B
 * hears is bit for bit what A sent, in order, with at most 3 frames trimmed by a stall.
 */
export async function expectPairHearsEachOther(a: SimulatedCall, b: SimulatedCall): Promise<void> {
  const heard = (call: SimulatedCall): Int16Array => call.receivedPcm().subarray(10 * 160);
  const sent = mulawEncode(tone(600, 1.5));
  await Promise.all([a.play(tone(600, 1.5)), b.play(tone(1400, 1.5))]);
  // The last frames are on their way through one or two servers' jitter buffers: wait for them, not a fixed time.
  await waitFor(() => (b.received.length >= sent.length / 160 && a.received.length >= sent.length / 160 ? true : undefined), 3000).catch(() => undefined);
  expect(toneLevel(heard(a), 1400)).toBeGreaterThan(4000);
  expect(toneLevel(heard(b), 600)).toBeGreaterThan(4000);
  expect(toneLevel(heard(a), 600)).toBeLessThan(100);
  expect(toneLevel(heard(b), 1400)).toBeLessThan(100);
  // Bit for bit and in order: each frame B heard is the next of A's frames. On a loaded machine a stall may make the
  // room trim its jitter buffer (a frame or two dropped to stay in time; seen 73 of 75 with two test files at once).
  const frames = sent.length / 160;
  let next = 0;
  for (const frame of b.received) {
    while (next < frames && !Buffer.from(frame.mulaw).equals(Buffer.from(sent.subarray(next * 160, (next + 1) * 160)))) next++;
    expect(next).toBeLessThan(frames);
    next++;
  }
  expect(b.received.length).toBeLessThanOrEqual(frames);
  expect(b.received.length).toBeGreaterThanOrEqual(frames - 3);
}
