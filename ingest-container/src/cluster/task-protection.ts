import type { Logger } from '../../../core/log';

/** Protection lasts this long unless refreshed: a task that hangs does not stay protected for ever. */
const EXPIRES_IN_MINUTES = 60;
const REFRESH_MS = 15 * 60_000;

/**
 * ECS task scale-in protection, through the ECS agent's endpoint (`$ECS_AGENT_URI`): on while this task
 * holds live calls or participants, refreshed while they last, off once idle. Neither autoscaling nor a
 * deployment stops a protected task, so neither cuts a live call. Outside ECS (no agent) it does nothing.
 */
export class TaskProtection {
  /** What the agent was last told (or is being told). */
  private enabled = false;
  private refreshedAt = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly agentUri: string | undefined,
    private readonly log: Logger,
  ) {}

  /** Called whenever the task's load changes, and periodically. */
  update(busy: boolean): void {
    if (!this.agentUri) return;
    const now = Date.now();
    if (busy === this.enabled && !(busy && now - this.refreshedAt > REFRESH_MS)) return;
    this.enabled = busy;
    this.refreshedAt = now;
    this.queue = this.queue.then(() => this.put(busy));
  }

  /** Resolves once every change asked for so far has reached the agent (or failed). */
  settled(): Promise<void> {
    return this.queue;
  }

  private async put(enabled: boolean): Promise<void> {
    try {
      const res = await fetch(`${this.agentUri}/task-protection/v1/state`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ProtectionEnabled: enabled, ...(enabled && { ExpiresInMinutes: EXPIRES_IN_MINUTES }) }),
        signal: AbortSignal.timeout(5000),
      });
      const body = (await res.json().catch(() => ({}))) as { failure?: { reason?: string } };
      if (!res.ok || body.failure) throw new Error(`ECS agent answered ${res.status}: ${body.failure?.reason ?? 'no reason'}`);
      this.log.info(enabled ? 'task scale-in protection on' : 'task scale-in protection off', {});
    } catch (err) {
      this.log.error('could not change task scale-in protection; retried on the next change', { enabled, err });
      // Asked again on the next update, whatever it is.
      this.enabled = !enabled;
      this.refreshedAt = 0;
    }
  }
}
