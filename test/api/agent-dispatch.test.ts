import { closedPort } from '../support/agents';
import { json, stackForFile } from '../support/stack';
import { waitFor } from '../support/local-process';

/**
 * `POST /v2/agent/dispatch` and `GET /v2/agent/dispatch/{jobId}` on the local stack (its media server dials): shapes,
 * validation, tenant isolation, deactivated rooms. The agent joining a room and being heard: test/e2e/agent-dispatch.test.ts.
 */
const file = stackForFile('acme', 'globex');

interface Accepted {
  data: { success: true; jobId: string; status: string; roomId: string; agentId: string };
}
interface Job {
  data: { jobId: string; status: string; roomId: string; agentId: string; reason?: string; participantId?: string; metadata?: Record<string, unknown>; createdAt: string; updatedAt: string };
}

async function agent(token = file.tokens.acme, url = 'ws://localhost:9/agent'): Promise<string> {
  const res = await file.t.api('POST', '/v2/agents', { token, body: { name: 'dispatch bot', url, metadata: { persona: 'support', tier: 1 } } });
  expect(res.status).toBe(201);
  return (await json<{ id: string }>(res)).id;
}

const dispatch = (body: Record<string, unknown>, token = file.tokens.acme) => file.t.api('POST', '/v2/agent/dispatch', { token, body });
const job = async (jobId: string, token = file.tokens.acme) => file.t.api('GET', `/v2/agent/dispatch/${jobId}`, { token });

describe('agent dispatch API', () => {
  it("answers VideoSDK's shape at once (pending); the job then says what the media server did: failed, unreachable, for an agent nobody serves", async () => {
    const agentId = await agent(file.tokens.acme, `ws://127.0.0.1:${await closedPort()}/agent`);
    const res = await dispatch({ agentId, roomId: 'dispatch-room', metadata: { tier: 2 } });
    expect(res.status).toBe(200);
    const accepted = await json<Accepted>(res);
    expect(accepted).toEqual({ data: { success: true, jobId: expect.stringMatching(/^job_[0-9a-hjkmnp-tv-z]{16}$/), status: 'pending', roomId: 'dispatch-room', agentId } });
    const { jobId } = accepted.data;
    const failed = await waitFor(async () => {
      const { data } = await json<Job>(await job(jobId));
      return data.status === 'pending' ? undefined : data;
    }, 10_000);
    expect(failed).toEqual({ jobId, status: 'failed', reason: 'unreachable', roomId: 'dispatch-room', agentId, metadata: { tier: 2 }, createdAt: expect.any(String), updatedAt: expect.any(String) });
    // Three attempts, each logged with the job's ids, then the failure.
    const lines = file.t.logLines.filter((line) => line.includes(jobId));
    expect(lines.filter((line) => line.includes('agent connect failed'))).toHaveLength(3);
    expect(lines.some((line) => line.includes('"msg":"agent dispatch failed"') && line.includes('"reason":"unreachable"') && line.includes(agentId))).toBe(true);
  }, 20_000);

  it('takes meetingId for roomId, or both when equal', async () => {
    const agentId = await agent();
    for (const body of [{ meetingId: 'dispatch-meeting' }, { roomId: 'dispatch-meeting', meetingId: 'dispatch-meeting' }]) {
      const res = await dispatch({ agentId, ...body });
      expect({ status: res.status, roomId: (await json<Accepted>(res)).data.roomId }).toEqual({ status: 200, roomId: 'dispatch-meeting' });
    }
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['roomId', { roomId: undefined }, /required \(or meetingId\)/],
    ['meetingId', { meetingId: 'another-room' }, /must equal roomId/],
    ['roomId', { roomId: 'bad room' }, /A-Z a-z 0-9/],
    ['agentId', { agentId: 'agent-1' }, /agent id/],
    ['agentId', { agentId: undefined }, /string/],
    ['metadata', { metadata: { big: 'x'.repeat(5000) } }, /4096/],
    ['metadata', { metadata: 'persona' }, /object|record/],
    ['callId', { callId: 'x' }, /Unknown field/],
  ])('refuses a bad %s with 400 naming it', async (field, body, message) => {
    const res = await dispatch({ agentId: 'ag_0000000000000000', roomId: 'dispatch-room', ...body });
    expect(res.status).toBe(400);
    const answer = await json<{ code: string; errors: { field: string; message: string }[] }>(res);
    expect(answer.code).toBe('bad_request');
    expect(answer.errors).toContainEqual({ field, message: expect.stringMatching(message) });
  });

  it("answers 404 for an unknown agent, another tenant's agent, and another tenant's or an unknown job", async () => {
    const theirs = await agent(file.tokens.globex);
    for (const agentId of ['ag_0000000000000000', theirs]) {
      const res = await dispatch({ agentId, roomId: 'dispatch-room' });
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 404, body: { message: `Agent ${agentId} not found`, code: 'not_found' } });
    }
    const { data } = await json<Accepted>(await dispatch({ agentId: theirs, roomId: 'dispatch-room' }, file.tokens.globex));
    expect((await job(data.jobId, file.tokens.globex)).status).toBe(200);
    for (const jobId of [data.jobId, 'job_0000000000000000', 'nope']) {
      const res = await job(jobId);
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 404, body: { message: `Dispatch job ${jobId} not found`, code: 'not_found' } });
    }
  });

  it('refuses a deactivated room with 400, before any media server is asked', async () => {
    const agentId = await agent();
    expect((await file.t.api('POST', '/v2/rooms', { token: file.tokens.acme, body: { customRoomId: 'dispatch-closed' } })).status).toBe(201);
    expect((await file.t.api('POST', '/v2/rooms/deactivate', { token: file.tokens.acme, body: { roomId: 'dispatch-closed' } })).status).toBe(200);
    for (const field of ['roomId', 'meetingId']) {
      const res = await dispatch({ agentId, [field]: 'dispatch-closed' });
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 400,
        body: { message: `Invalid request body: ${field}: room dispatch-closed is deactivated`, code: 'bad_request', errors: [{ field, message: 'room dispatch-closed is deactivated' }] },
      });
    }
    expect(file.t.logLines.some((line) => line.includes('dispatch-closed') && line.includes('agent dispatch sent'))).toBe(false);
  });

  it('needs allow_mod and a token, as every management route', async () => {
    const joinOnly = await file.t.token('acme', { permissions: ['allow_join'] });
    expect((await dispatch({ agentId: 'ag_0000000000000000', roomId: 'r' }, joinOnly)).status).toBe(403);
    expect((await file.t.api('POST', '/v2/agent/dispatch', { body: {} })).status).toBe(401);
  });
});
