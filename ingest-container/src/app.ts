import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Authenticator } from '../../core/auth';
import { dynamoClient, kmsClient, s3Client } from '../../core/aws';
import { CallHangup } from '../../core/calls/hangup';
import { DynamoCallStore } from '../../core/calls/store';
import { claimStoreFor } from '../../core/claims';
import { DynamoConnectorStore } from '../../core/connectors/store';
import { inAws, type Logger } from '../../core/log';
import { MEDIA_METRICS } from '../../core/metrics';
import { MediaCommandStore } from '../../core/media-commands';
import { PlacementStore } from '../../core/placement';
import { regionTables } from '../../core/region-tables';
import { PlivoAuthTokens } from '../../core/connectors/plivo-tokens';
import { PlivoVoiceApi } from '../../core/plivo/voice-api';
import { DynamoRoutingRuleStore } from '../../core/routing/store';
import { SecretBox } from '../../core/secret-box';
import { TenantStore } from '../../core/tenants';
import { RoomNames, RoomService } from '../../core/room-records/service';
import { DynamoRoomStore } from '../../core/room-records/store';
import { roomWebhookPublisher } from '../../core/room-records/webhooks';
import { DynamoSessionStore } from '../../core/sessions/store';
import { recordingWebhookPublisher } from '../../core/recordings/events';
import { RecordingObjects } from '../../core/recordings/objects';
import { DynamoRecordingStore } from '../../core/recordings/store';
import { webhookPublisher } from '../../core/webhooks/publisher';
import { RoomGate } from './admission/room-gate';
import { DynamoDispatchJobStore } from '../../core/agents/dispatch';
import { DIAL_DEFAULTS } from './calls/agent';
import { AgentDispatcher } from './calls/dispatch';
import { CallLifecycle } from './calls/lifecycle';
import { RoomSwitcher } from './calls/switch-room';
import { ConnectionSlots, RoomSeats } from './cluster/capacity';
import { ClusterMember } from './cluster/member';
import { RelayAuth } from './cluster/relay-auth';
import { Seating } from './cluster/seating';
import { TaskProtection } from './cluster/task-protection';
import type { MediaConfig } from './config';
import { ConsoleFiles } from './console';
import { Ingress } from './ingress';
import { RecordingManager } from './recording/manager';
import { everyWatcher } from './room/room';
import { SessionRecorder } from './room/sessions';
import { anyCounted, mediaMetrics, takeCounts } from './metrics';
import { Connections } from './server';
import type { RoomEnding } from './transport/close-codes';
import { guard, streamGuard } from './transport/guard';
import { Refusal, refuse } from './transport/refuse';

/** One media server process: the public listener, the relay listener, its room placements, metrics. */
export interface MediaServer {
  readonly serverId: string;
  readonly port: number;
  readonly relayPort: number;
  readonly connections: Connections;
  /** The public listener: `npm start`'s balancer hands it connections (handoff.ts). */
  readonly publicServer: Server;
  /** SIGTERM: drain (live calls finish, up to DRAIN_TIMEOUT_SECONDS), then stop. */
  drain(): Promise<void>;
  /** Stops now: live calls end. Safe to call twice. */
  close(): Promise<void>;
}

/** Each task reports its load this often: the autoscaling metric's data points. */
const METRICS_INTERVAL_MS = MEDIA_METRICS.reportSeconds * 1000;
const notFound = JSON.stringify({ message: 'Not found', code: 'not_found' });
/**
 * A connection that has not sent its request's headers within 10 s (or a whole request within 15 s: no request here
 * has a body) is answered 408 and closed, checked every second; Node's defaults (60 s, 300 s, every 30 s) would let
 * idle connections pile up for minutes. Upgraded sockets (streams, rooms, relays) leave these timeouts behind.
 */
export const HTTP_TIMEOUTS = { headersTimeout: 10_000, requestTimeout: 15_000, connectionsCheckingInterval: 1_000 } as const;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Starts a media server for its region, as the container does in ECS and `npm start` does locally. Calls'
 * records and events go to the control plane's table and webhook queue; claims and placements live in the
 * region's own table. `ecsAgentUri` (ECS sets it) turns on task scale-in protection while calls are live. Room
 * sessions are recorded in the control plane's table, and their events go to the rooms' webhooks.
 */
export async function startMediaServer(config: MediaConfig, baseLog: Logger, ecsAgentUri?: string): Promise<MediaServer> {
  const { control } = config;
  const region = control.mediaRegions.find((r) => r.id === config.region);
  if (!region) throw new Error(`Media region ${config.region} is not configured (MEDIA_REGIONS)`);
  const serverId = `media-${randomUUID()}`;
  const log = baseLog.child({ serverId });
  const dynamo = dynamoClient(control.aws);
  const box = new SecretBox(kmsClient(control.aws), control.kmsKeyId);
  const table = regionTables(control, dynamo)(config.region);
  const relayAuth = await RelayAuth.create(box, serverId);
  const leaseMs = config.leaseSeconds * 1000;

  const publicServer = createServer(HTTP_TIMEOUTS);
  const relayServer = createServer({ ...HTTP_TIMEOUTS, maxHeaderSize: 64 * 1024 });
  const port = await listen(publicServer, config.port, config.host);
  const relayPort = await listen(relayServer, config.relayPort, config.host);
  const relayUrl = `ws://${config.relayHost}:${relayPort}`;

  const protection = new TaskProtection(ecsAgentUri, log);
  const cluster = new ClusterMember(new PlacementStore(table.dynamo, table.tableName), { serverId, relayUrl, sealedRelaySecret: relayAuth.sealed, leaseMs, log, onLost: (tenant, roomId) => media.evict(tenant, roomId) });
  const events = webhookPublisher(control, dynamo, log);
  const sessionEvents = roomWebhookPublisher(control, dynamo, log);
  const calls = new DynamoCallStore(dynamo, control.tableName);
  const tokens = new PlivoAuthTokens(box);
  const lifecycle = new CallLifecycle({
    calls,
    events,
    subscriptions: events,
    retentionDays: control.callRetentionDays,
    serverId,
    // The room's `hangup` ends a call as `POST /v2/sip/call/end` does, with the connector's Plivo credentials.
    hangup: new CallHangup({
      calls,
      rules: new DynamoRoutingRuleStore(dynamo, control.tableName),
      credentials: (connector) => tokens.credentials(connector),
      plivo: new PlivoVoiceApi({ baseUrl: control.plivoApiUrl, timeoutMs: control.plivoApiTimeoutMs, allowPrivateTargets: config.allowPrivateTargets }),
      events,
      retentionDays: control.callRetentionDays,
      log,
    }),
    log,
  });
  const roomStore = new DynamoRoomStore(dynamo, control.tableName);
  const roomNames = new RoomNames(roomStore, log);
  const rooms = new RoomGate(roomNames);
  // A room deactivated here (its `autoCloseConfig`) is closed here: this server holds it.
  const closer = {
    close: (tenant: string, name: string) => {
      closeRoom(tenant, name, 'room-deactivated');
      return Promise.resolve();
    },
  };
  const roomService = new RoomService({ rooms: roomStore, closer, allowPrivateTargets: config.allowPrivateTargets, log });
  const sessions = new SessionRecorder({
    store: new DynamoSessionStore(dynamo, control.tableName),
    rooms: roomNames,
    events: sessionEvents,
    region: config.region,
    serverId,
    retentionDays: control.callRetentionDays,
    endSession: (tenant, name) => closeRoom(tenant, name, 'session-ended'),
    deactivate: (tenant, name) => roomService.deactivate(tenant, name),
    log,
  });
  const awsRegion = region.awsRegion ?? control.aws.region;
  const s3 = s3Client(control.aws, awsRegion);
  const recordingEvents = recordingWebhookPublisher(control, dynamo, log);
  const recordings = new RecordingManager({
    store: new DynamoRecordingStore(dynamo, control.tableName),
    objects: new RecordingObjects(s3, region.recordingsBucket),
    events: recordingEvents,
    calls,
    // The registry is made by the connections below, which are given this manager to watch their rooms.
    rooms: { find: (tenant, roomId) => media.rooms.find(tenant, roomId) },
    sessions,
    region: config.region,
    awsRegion,
    bucket: region.recordingsBucket,
    serverId,
    maxRecordings: config.limits.maxRecordings,
    segmentSeconds: config.recordingSegmentSeconds,
    retentionDays: control.recordingRetentionDays,
    onFailed: () => media.counters.recordingsFailed++,
    log,
  });
  const dial = { ...DIAL_DEFAULTS, publicOnly: !config.allowPrivateTargets };
  const media: Connections = new Connections({
    serverId,
    lifecycle,
    cluster,
    // The session watcher first: a recording started by a join finds the session that join started.
    sessions: everyWatcher(sessions, recordings),
    limits: config.limits,
    dial,
    startTimeoutMs: config.startTimeoutSeconds * 1000,
    onLoadChange: () => protection.update(media.busy),
    // A member relayed from here was closed as its room was deactivated: later joins here are refused at once.
    onRoomDeactivated: (tenant, roomId) => rooms.deactivated(tenant, roomId),
    knownDeactivated: (tenant, roomId) => rooms.knownDeactivated(tenant, roomId),
    log,
  });
  const seating = new Seating({
    cluster,
    seats: new RoomSeats(config.limits),
    slots: new ConnectionSlots(config.limits),
    limits: config.limits,
    relayAuth,
    leaseMs,
    checkOpen: (relayed) => media.checkOpen(relayed),
    onRelayError: () => media.counters.relayErrors++,
    onConnectionRefused: () => media.counters.connectionsRefused++,
  });
  const closeRoom = (tenant: string, roomId: string, why: RoomEnding) => {
    if (why === 'room-deactivated') rooms.deactivated(tenant, roomId);
    media.closeRoom(tenant, roomId, why);
  };
  const commands = new MediaCommandStore(table.dynamo, table.tableName);
  const dispatcher = new AgentDispatcher({
    commands,
    jobs: new DynamoDispatchJobStore(dynamo, control.tableName, control.callRetentionDays),
    seating,
    rooms: media.rooms,
    agents: media,
    admit: (tenant, name) => rooms.admit(tenant, name),
    dial,
    log,
  });
  const switcher = new RoomSwitcher({
    serverId,
    commands,
    seating,
    relayAuth,
    rooms: media.rooms,
    calls: media,
    lifecycle,
    closeRoom,
    removeParticipant: (tenant, roomId, participantId) => media.removeParticipant(tenant, roomId, participantId),
    dispatchAgent: (command) => dispatcher.dispatch(command),
    recording: (command) => recordings.command(command),
    log,
  });
  const ingress = new Ingress({
    plivo: {
      region: config.region,
      serverId,
      ingestUrl: region.ingestUrl,
      claims: claimStoreFor(control, dynamo),
      connectors: new DynamoConnectorStore(dynamo, control.tableName),
      tokens,
    },
    auth: new Authenticator(new TenantStore(dynamo, control.tableName, box)),
    rooms,
    relayAuth,
    seating,
    connections: media,
    console: new ConsoleFiles({ apiUrl: config.consoleApiUrl }),
    log,
  });
  // The servers' own callbacks: whatever a request or an upgrade trips ends that connection alone.
  publicServer.on('request', (req, res) => {
    streamGuard(req.socket, log, 'request').run(() => {
      if (!ingress.handleRequest(req, res)) res.writeHead(404, { 'content-type': 'application/json' }).end(notFound);
    });
  });
  publicServer.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    streamGuard(socket, log, 'upgrade').run(() => {
      if (!ingress.handleUpgrade(req, socket, head)) refuse(socket, new Refusal('not_found', 'Not found'));
    });
  });
  relayServer.on('request', (req, res) => {
    streamGuard(req.socket, log, 'relay request').run(() => {
      if ((req.url ?? '').split('?')[0] === '/health') media.health(res, true);
      else res.writeHead(404, { 'content-type': 'application/json' }).end(notFound);
    });
  });
  relayServer.on('upgrade', (req, socket: Duplex, head: Buffer) => streamGuard(socket, log, 'relay upgrade').run(() => ingress.handleRelayUpgrade(req, socket, head)));
  await cluster.start();
  switcher.start();

  // In AWS every report is a data point of the autoscaling metric; elsewhere (`npm start`) a report that says nothing new is left out.
  const everyReport = inAws();
  let reportedCalls = 0;
  const report = () => {
    const counts = takeCounts(media.counters);
    const news = media.activeCalls !== reportedCalls || anyCounted(counts);
    reportedCalls = media.activeCalls;
    if (everyReport || news) log.info('media metrics', mediaMetrics(config.region, media.activeCalls, counts));
    protection.update(media.busy);
  };
  // A report that throws is logged; the next one still runs.
  const metrics = setInterval(guard(log, 'metrics report', () => undefined)(report), METRICS_INTERVAL_MS).unref();
  log.info('media server started', { region: config.region, port, relayUrl, leaseSeconds: config.leaseSeconds, limits: config.limits });

  /** Settles the session writes begun so far, then the events they fired; the recordings' ends and their events too. */
  const recorded = async () => {
    await sessions.settled();
    await sessionEvents.settled();
    await recordings.settled();
  };
  let closing: Promise<void> | undefined;
  const stop = (ending: () => Promise<void>) =>
    (closing ??= (async () => {
      await switcher.stop();
      await dispatcher.stop();
      await ending();
      // Its rooms are closed: every recording still here is finished (assembled, completed) while the table and the
      // bucket clients are still there.
      await recordings.stopAll();
      clearInterval(metrics);
      report();
      // The sessions its rooms' last leaves ended, and their events, are recorded while this server still counts as
      // live: once it is marked stopped a sweep ends them itself, and this server's own last leaves and ends are lost.
      await recorded();
      await cluster.stop();
      protection.update(false);
      await protection.settled();
      // Every connection has ended by now; the time limit only guards against one that never reports it.
      await Promise.race([
        Promise.all(
          [publicServer, relayServer].map(
            (server) =>
              new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
              }),
          ),
        ),
        new Promise((resolve) => setTimeout(resolve, 5000).unref()),
      ]);
      // A connection only the servers' close ended is recorded too before the table's client goes.
      await recorded();
      dynamo.destroy();
      s3.destroy();
      log.info('media server stopped', {});
    })());
  return {
    serverId,
    port,
    relayPort,
    connections: media,
    publicServer,
    drain: () => stop(() => media.drain(config.drainTimeoutSeconds * 1000)),
    // During a drain too: the live calls end now, so the drain (and the stop it began) finishes at once.
    close: () => {
      void media.close();
      return stop(() => media.close());
    },
  };
}
