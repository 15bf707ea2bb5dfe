import { networkInterfaces } from 'node:os';
import { loadControlPlaneConfig, type ControlPlaneConfig } from '../../core/config';
import { ConfigError, envValue, readEnv, type Env } from '../../core/env';
import { LIMIT_DEFAULTS } from '../../core/limits';
import { SEGMENT_SECONDS } from '../../core/recordings/model';
import type { RoomLimits } from './cluster/capacity';

/** The media server's settings: the control plane's (its table, key, queue) plus its own. */
export interface MediaConfig {
  readonly control: ControlPlaneConfig;
  /** The media region this server serves (`MEDIA_REGION`), one of MEDIA_REGIONS. */
  readonly region: string;
  /** Public port: Plivo streams, the room protocol, the console, `/health` (`PORT`, 8080). */
  readonly port: number;
  /** Internal port where peers relay participants of rooms placed here (`RELAY_PORT`, 8081). */
  readonly relayPort: number;
  /** The address peers reach this server at (`RELAY_HOST`; default: the task's first private IPv4). */
  readonly relayHost: string;
  /** Interface to listen on (`HOST`, all interfaces). */
  readonly host: string;
  /** After SIGTERM, live calls get this long to end before they are cut (`DRAIN_TIMEOUT_SECONDS`, 110: ECS kills at 120). */
  readonly drainTimeoutSeconds: number;
  /** Room placement and server leases (`PLACEMENT_LEASE_SECONDS`, 15), renewed every third of it. */
  readonly leaseSeconds: number;
  /** A Plivo stream that sends no `start` this long after its upgrade is closed with 4408 (`STREAM_START_TIMEOUT_SECONDS`, 10). */
  readonly startTimeoutSeconds: number;
  /**
   * `MAX_ROOMS_PER_TENANT` (1000, per media server), `MAX_PARTICIPANTS_PER_ROOM` (100), the audio queued ahead
   * per room and per server (`MAX_QUEUED_AUDIO_MB_PER_ROOM`, 8; `MAX_QUEUED_AUDIO_MB`, 256), and the connections on
   * this server (`MAX_CONNECTIONS`, 2000; `MAX_CONNECTIONS_PER_TENANT`, 1000), and the recordings it writes at once
   * (`MAX_RECORDINGS`, 200).
   */
  readonly limits: RoomLimits;
  /**
   * Seconds of audio in each recording segment uploaded (`RECORDING_SEGMENT_SECONDS`, 20, 1-25): what a recording loses
   * when its server dies, at most.
   */
  readonly recordingSegmentSeconds: number;
  /**
   * Agents may be dialled at ws://localhost and private addresses (`ALLOW_PRIVATE_TARGETS=true`): set by `npm start`
   * alone, as its webhooks may go to localhost; never by the CDK stacks, where agents must be public wss:// endpoints.
   */
  readonly allowPrivateTargets: boolean;
  /**
   * The management API the web console calls (`CONSOLE_API_URL`, the control plane's public URL), allowed by the
   * console's content security policy; null: the console's own origin, as `npm start` serves both.
   */
  readonly consoleApiUrl: string | null;
}

const MB = 1024 * 1024;

/** The first non-internal IPv4 address: in ECS (awsvpc), the task's private address in its subnet. */
function privateAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  throw new ConfigError('No private IPv4 address found for peers to relay to: set RELAY_HOST');
}

export function loadMediaConfig(env: Env): MediaConfig {
  const control = loadControlPlaneConfig(env, { publicUrl: false });
  const region = env.MEDIA_REGION?.trim() || control.homeMediaRegion;
  if (!control.mediaRegions.some((r) => r.id === region)) {
    throw new ConfigError(`MEDIA_REGION must be one of ${control.mediaRegions.map((r) => r.id).join(', ')}, got "${region}"`);
  }
  if (!control.webhooks.queueUrl) throw new ConfigError('Missing required environment variable WEBHOOK_QUEUE_URL');
  return {
    control,
    region,
    port: readEnv(env, 'PORT', envValue.port(), 8080),
    relayPort: readEnv(env, 'RELAY_PORT', envValue.port(), 8081),
    relayHost: env.RELAY_HOST?.trim() || privateAddress(),
    host: env.HOST?.trim() || '0.0.0.0',
    drainTimeoutSeconds: readEnv(env, 'DRAIN_TIMEOUT_SECONDS', envValue.integer(0, 86400), 110),
    leaseSeconds: readEnv(env, 'PLACEMENT_LEASE_SECONDS', envValue.integer(3, 300), 15),
    // Shorter only: the sweeper gives a late stream 15 s to start before it calls the call missed.
    startTimeoutSeconds: readEnv(env, 'STREAM_START_TIMEOUT_SECONDS', envValue.integer(1, 10), 10),
    limits: {
      maxRoomsPerTenant: readEnv(env, 'MAX_ROOMS_PER_TENANT', envValue.integer(1, 1_000_000), LIMIT_DEFAULTS.maxRoomsPerTenant),
      // A call routed to an agent takes two seats.
      maxParticipantsPerRoom: readEnv(env, 'MAX_PARTICIPANTS_PER_ROOM', envValue.integer(2, 10_000), LIMIT_DEFAULTS.maxParticipantsPerRoom),
      // 8 MB: one agent's full 60 s ahead at 48 kHz (5.8 MB) with room to spare; 256 MB: an eighth of a 2 GiB task.
      maxQueuedAudioBytesPerRoom: readEnv(env, 'MAX_QUEUED_AUDIO_MB_PER_ROOM', envValue.integer(1, 1024), 8) * MB,
      maxQueuedAudioBytes: readEnv(env, 'MAX_QUEUED_AUDIO_MB', envValue.integer(1, 16_384), 256) * MB,
      maxConnections: readEnv(env, 'MAX_CONNECTIONS', envValue.integer(1, 1_000_000), LIMIT_DEFAULTS.maxConnections),
      maxConnectionsPerTenant: readEnv(env, 'MAX_CONNECTIONS_PER_TENANT', envValue.integer(1, 1_000_000), LIMIT_DEFAULTS.maxConnectionsPerTenant),
      maxRecordings: readEnv(env, 'MAX_RECORDINGS', envValue.integer(0, 10_000), LIMIT_DEFAULTS.maxRecordings),
    },
    recordingSegmentSeconds: readEnv(env, 'RECORDING_SEGMENT_SECONDS', envValue.integer(SEGMENT_SECONDS.min, SEGMENT_SECONDS.max), SEGMENT_SECONDS.default),
    allowPrivateTargets: readEnv(env, 'ALLOW_PRIVATE_TARGETS', envValue.boolean(), false),
    consoleApiUrl: readEnv(env, 'CONSOLE_API_URL', envValue.url(['https:', 'http:']), null),
  };
}
