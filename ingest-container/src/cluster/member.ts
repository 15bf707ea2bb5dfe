import type { Logger } from '../../../core/log';
import type { MediaServerRecord, Placement, PlacementStore } from '../../../core/placement';

export interface MemberOptions {
  readonly serverId: string;
  /** `ws://<private address>:<relay port>`: where peers relay participants of rooms placed here. */
  readonly relayUrl: string;
  readonly relaySecret: string;
  readonly leaseMs: number;
  readonly log: Logger;
  /** A room this server held was taken over by another (its lease lapsed, e.g. while cut off from DynamoDB). */
  readonly onLost: (tenant: string, roomId: string) => void;
}

const key = (tenant: string, roomId: string) => `${tenant}\u0000${roomId}`;
/** Lease renewals in flight at once, so a server with many rooms does not burst its table. */
const RENEW_CONCURRENCY = 16;

/**
 * This media server as a member of its region: keeps its own server record and its rooms' placement
 * leases alive with one heartbeat (every third of the lease), places rooms here when nobody else holds
 * them, and lets them go when they empty. A room this server holds is served without a table read.
 */
export class ClusterMember {
  private readonly held = new Map<string, { tenant: string; roomId: string }>();
  private state: MediaServerRecord['state'] = 'serving';
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;

  constructor(
    private readonly store: PlacementStore,
    private readonly options: MemberOptions,
  ) {}

  get serverId(): string {
    return this.options.serverId;
  }

  get rooms(): number {
    return this.held.size;
  }

  /** Writes the server record, then renews it and every held lease each third of the lease. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beating ??= this.beat()
        .catch((err: unknown) => this.options.log.error('placement heartbeat failed', { err }))
        .finally(() => (this.beating = null));
    }, this.options.leaseMs / 3);
  }

  /** Where the room lives: here (now placed here when nobody held it), or the live owner's placement. */
  async place(tenant: string, roomId: string): Promise<{ here: true } | { here: false; owner: Placement }> {
    if (this.held.has(key(tenant, roomId))) return { here: true };
    // Draining: no new rooms, but one still placed here (released a moment ago, say) is taken back.
    const placement = this.state === 'serving' ? await this.store.place(tenant, roomId, this.record()) : await this.store.get(tenant, roomId);
    if (!placement) throw new Error('draining: this server takes no new rooms');
    if (placement.serverId !== this.serverId) return { here: false, owner: placement };
    this.held.set(key(tenant, roomId), { tenant, roomId });
    this.options.log.info('room placed here', { tenant, roomId });
    return { here: true };
  }

  holds(tenant: string, roomId: string): boolean {
    return this.held.has(key(tenant, roomId));
  }

  /** The room emptied: its placement goes, so the next joiner places it wherever it lands. */
  release(tenant: string, roomId: string): void {
    if (!this.held.delete(key(tenant, roomId))) return;
    this.store.release(tenant, roomId, this.serverId).catch((err: unknown) => this.options.log.warn('room placement release failed; its lease will lapse', { tenant, roomId, err }));
  }

  /** Draining: no new rooms here; the record says so (the sweeper and operators see it). */
  async drain(): Promise<void> {
    this.state = 'draining';
    await this.beat().catch((err: unknown) => this.options.log.error('placement heartbeat failed', { err }));
  }

  /**
   * Stops the heartbeat and marks the record stopped with a lapsed lease: the sweeper closes any call
   * record left answered here at once, instead of after the lease.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    this.state = 'stopped';
    for (const { tenant, roomId } of [...this.held.values()]) this.release(tenant, roomId);
    await this.store.heartbeat({ ...this.record(), state: 'stopped', leaseExpiresAtMs: Date.now() - 1 }).catch((err: unknown) => this.options.log.warn('could not mark this server stopped', { err }));
  }

  private record(): MediaServerRecord {
    const { serverId, relayUrl, relaySecret, leaseMs } = this.options;
    return { serverId, relayUrl, relaySecret, state: this.state, leaseExpiresAtMs: Date.now() + leaseMs };
  }

  private async beat(): Promise<void> {
    const record = this.record();
    await this.store.heartbeat(record);
    const rooms = [...this.held.values()];
    for (let i = 0; i < rooms.length; i += RENEW_CONCURRENCY) {
      await Promise.all(
        rooms.slice(i, i + RENEW_CONCURRENCY).map(async ({ tenant, roomId }) => {
          if (await this.store.renew(tenant, roomId, record)) return;
          if (!this.held.delete(key(tenant, roomId))) return;
          this.options.log.error('room lease lost to another server: its participants here are moved off', { tenant, roomId });
          this.options.onLost(tenant, roomId);
        }),
      );
    }
  }
}
