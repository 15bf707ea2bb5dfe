import type { ControlPlaneConfig } from '../config';
import { newClaimRef } from '../claims';
import type { Connector } from '../connectors/model';
import { callCallbackUrl, webhookUrl } from '../connectors/model';
import type { ConnectorStore } from '../connectors/store';
import { ApiError, BadRequestError, ConflictError, NotFoundError, ServiceUnavailableError } from '../errors';
import type { Logger } from '../log';
import { COMMAND_TTL_MS, newCommandId, type MediaCommandStore } from '../media-commands';
import type { PlivoCredentials, PlivoVoiceApi } from '../plivo/voice-api';
import { mediaRegionFor, roomFor } from '../routing/model';
import type { RoomService } from '../room-records/service';
import type { RoutingRuleStore } from '../routing/store';
import { subscribes } from '../webhooks/model';
import { publishCallEvent, type WebhookEventSink } from '../webhooks/publisher';
import { CALL_ID, LIVE_STATUSES, MAX_TRANSFERS, newCallId, toCallView, type CallRecord, type CallView, type TransferStatus } from './model';
import { CallHangup } from './hangup';
import type { PlaceCallInput, SwitchRoomInput, TransferCallInput } from './schema';
import { callEnd, MAX_ROOM_SWITCHES, type CallStore, type TransferFields } from './store';
import { transferStep } from './transfer';

/** How long `waitUntilAnswered` holds the request: under API Gateway's 29 s, whatever the ringing timeout. */
export const MAX_WAIT_MS = 25_000;
const WAIT_POLL_MS = 250;
/** After the ringing timeout and the claim's life, a call Plivo never called back about ends `not-answered`. */
const NO_CALLBACK_GRACE_SECONDS = 15;

/** What a failed Voice API request left on the call (its `hangupReason`, a transfer's `outcome`): Plivo's silence or its refusal. */
const plivoFailure = (err: unknown): 'plivo-timeout' | 'plivo-error' => ((err as { code?: string }).code === 'plivo_timeout' ? 'plivo-timeout' : 'plivo-error');

export interface CallControlDeps {
  readonly connectors: Pick<ConnectorStore, 'get' | 'list'>;
  readonly rules: Pick<RoutingRuleStore, 'withConnector'>;
  readonly calls: CallStore;
  /** The connector's Plivo account, or a 409 naming what it lacks. */
  readonly credentials: (connector: Connector) => Promise<PlivoCredentials>;
  /** Whether the connector holds both halves of a Plivo account (what `credentials` needs). */
  readonly holdsCredentials: (connector: Connector) => boolean;
  readonly plivo: PlivoVoiceApi;
  /** Refuses (400) a room that exists and is deactivated: no call is placed or switched into it. */
  readonly rooms: Pick<RoomService, 'usableName'>;
  /** The command queue of a media region's servers (its table): how a call is switched between rooms. */
  readonly commands: (regionId: string) => MediaCommandStore;
  /** Null when no webhook queue is configured (`WEBHOOK_QUEUE_URL`): call control then answers 503. */
  readonly events: WebhookEventSink | null;
  readonly config: Pick<ControlPlaneConfig, 'publicUrl' | 'mediaRegions' | 'homeMediaRegion' | 'countryRegions' | 'claimTtlSeconds' | 'callRetentionDays'>;
  readonly log: Logger;
}

/**
 * Call control through Plivo's Voice API: places outbound calls (their stream then takes the Answer URL's claim path
 * into the room) and ends calls. Every call is the tenant's: another tenant's id is not found.
 */
export class CallControl {
  /** Ends calls from our side (`end`); null without a webhook queue, as call control then answers 503. */
  private readonly hangup: CallHangup | null;

  constructor(private readonly deps: CallControlDeps) {
    const { events, config, log } = deps;
    this.hangup = events && new CallHangup({ ...deps, events, retentionDays: config.callRetentionDays, log });
  }

  /**
   * `POST /v2/sip/call`: records the call (`initiated`, `call-started`), then asks Plivo to place it, its callbacks on
   * the connector's Answer URL naming the call. Plivo's refusal or silence ends it `failed` (and a late callback for
   * it is hung up): the request is never retried, so a call is never placed twice.
   */
  async place(tenant: string, input: PlaceCallInput): Promise<CallView> {
    const events = this.events();
    const connector = await this.connectorFor(tenant, input.connectorId);
    const credentials = await this.deps.credentials(connector);
    const to = (input.sipCallTo ?? input.callTo) as string;
    const from = (input.sipCallFrom ?? input.callFrom) as string;
    const { rules, webhooks } = await this.deps.rules.withConnector(tenant, connector.id);
    const rule = input.routingRuleId === undefined ? null : rules.find((candidate) => candidate.id === input.routingRuleId);
    if (rule === undefined) throw new NotFoundError(`Routing rule ${input.routingRuleId} not found`);
    if (rule?.type === 'inbound') throw new BadRequestError('Invalid request body: routingRuleId: names an inbound rule; an outbound call takes an outbound rule', [{ field: 'routingRuleId', message: 'names an inbound rule' }]);
    const id = newCallId();
    const named = input.destinationRoomId ?? input.roomId ?? (rule?.room ? roomFor(rule.room, { callUuid: id, from, to }) : null);
    if (!named) throw new BadRequestError('Name the room: destinationRoomId, or a routingRuleId whose rule has a room');
    const roomId = await this.deps.rooms.usableName(tenant, named, input.destinationRoomId !== undefined ? 'destinationRoomId' : input.roomId !== undefined ? 'roomId' : 'routingRuleId');
    const { config } = this.deps;
    const startedAt = new Date().toISOString();
    const call: CallRecord = {
      id,
      tenant,
      type: 'outbound',
      callUuid: null,
      provider: connector.provider,
      connectorId: connector.id,
      ruleId: rule?.id ?? null,
      roomId,
      region: mediaRegionFor(config, connector, to),
      from,
      to,
      hidePhoneNumber: rule?.hidePhoneNumber ?? false,
      status: 'initiated',
      timelog: [{ status: 'initiated', at: startedAt }],
      startedAt,
      answeredAt: null,
      endedAt: null,
      durationSeconds: null,
      hangupReason: null,
      hangupCause: null,
      agentStatus: rule?.agentId ? 'pending' : null,
      stream: null,
      claimRef: newClaimRef(),
      metadata: input.metadata ?? {},
      ...(input.participant && { participant: input.participant }),
      ...(input.recordAudio && { record: true as const }),
    };
    const noCallbackBy = new Date(Date.parse(startedAt) + (input.ringingTimeout + config.claimTtlSeconds + NO_CALLBACK_GRACE_SECONDS) * 1000).toISOString();
    await this.deps.calls.create(call, config.callRetentionDays, noCallbackBy, subscribes(webhooks, 'call-started'));
    const log = this.deps.log.child({ tenant, callId: id, connectorId: connector.id, roomId });
    await publishCallEvent(events, 'call-started', call, webhooks);
    // One URL for every callback, as Plivo's own default hangup URL is the answer URL: `CallStatus` and `Event` tell them apart.
    const callbacks = callCallbackUrl(webhookUrl(config.publicUrl, connector), id);
    let placed: { readonly requestUuid: string };
    try {
      placed = await this.deps.plivo.makeCall(credentials, {
        from,
        to,
        answerUrl: callbacks,
        ringUrl: callbacks,
        hangupUrl: callbacks,
        ringTimeout: input.ringingTimeout,
        ...(input.maxCallDuration !== undefined && { timeLimit: input.maxCallDuration }),
      });
    } catch (err) {
      const reason = plivoFailure(err);
      const failed = await this.deps.calls.unanswered(tenant, id, 'failed', callEnd(reason, null), config.callRetentionDays, subscribes(webhooks, 'call-hangup'));
      log.warn('outbound call not placed: Plivo refused or did not answer', { reason, err: (err as Error).message });
      if (failed) await publishCallEvent(events, 'call-hangup', failed, webhooks);
      throw err;
    }
    log.info('outbound call placed', { requestUuid: placed.requestUuid, region: call.region, ruleId: call.ruleId });
    // Placed whatever happens next: without its request id, an end before Plivo's first callback ends the record alone.
    await this.deps.calls.placed(tenant, id, placed.requestUuid).catch((err: unknown) => log.warn('could not record the call’s Plivo request id', { err }));
    return input.waitUntilAnswered ? this.untilAnswered(tenant, id, input.ringingTimeout) : toCallView(call);
  }

  /**
   * `POST /v2/sip/call/end`: hangs the call up through Plivo (404 there: it had ended already) and ends its record as
   * `ended` by `api`, firing `call-hangup` once. An outbound call Plivo has not named yet is cancelled by its request id
   * (`CallHangup`). Asked again, it answers the call as the first request left it; a call that ended
   * otherwise is not live (409).
   */
  async end(tenant: string, callId: string): Promise<CallView> {
    this.events();
    const call = await this.find(tenant, callId);
    if (call.hangupReason === 'api') return toCallView(call);
    if (!LIVE_STATUSES.includes(call.status)) throw new ConflictError(`Call ${callId} is not live (${call.status})`);
    // Set whenever there is a webhook queue, which `events()` has just checked.
    const ended = await (this.hangup as CallHangup).hangUp(call, 'api');
    // Not live by the time it was asked, or its stream ended it first: answered as it is now.
    return ended ? toCallView(ended) : this.end(tenant, callId);
  }

  /**
   * `POST /v2/sip/call/transfer`: a cold transfer of an answered call to a number or SIP URI. The call moves to
   * `transfer-initiated` first (so its stream, which Plivo closes, does not end it), then Plivo's Transfer Call runs our
   * transfer XML next (`transferring`); the rest comes through Plivo's callbacks (the Answer URL's `transferCallback`).
   * Plivo's refusal fails the transfer (`transfer-failed`, the stream still in its room) and answers 502/504. A call
   * transferred MAX_TRANSFERS times already answers 409 `transfer_limit`.
   */
  async transfer(tenant: string, input: TransferCallInput): Promise<CallView> {
    const events = this.events();
    const call = await this.find(tenant, input.callId);
    if (call.status !== 'answered' && call.status !== 'transfer-failed') throw new ConflictError(`Call ${input.callId} is not answered (${call.status}): only a call in its room can be transferred`);
    if (call.pendingSwitch) throw new ConflictError(`Call ${input.callId} is being switched to another room: wait for switch-room-completed or switch-room-failed`);
    // Exact however requests race: each transfer starts from `answered` or `transfer-failed`, read here with its count.
    const transfers = call.timelog.filter((entry) => 'status' in entry && entry.status === 'transfer-initiated').length;
    if (transfers >= MAX_TRANSFERS) throw new ApiError(409, 'transfer_limit', `Call ${input.callId} has been transferred ${transfers} times, the most one call may be (${MAX_TRANSFERS}); place a new call instead`);
    const connector = await this.deps.connectors.get(tenant, call.connectorId);
    if (!connector) throw new ConflictError(`Call ${input.callId}'s connector no longer exists: Plivo cannot be asked to transfer it`);
    if (!call.callUuid) throw new ConflictError(`Call ${input.callId} has no Plivo CallUUID yet: Plivo cannot be asked to transfer it`);
    const credentials = await this.deps.credentials(connector);
    const { webhooks } = await this.deps.rules.withConnector(tenant, connector.id);
    const log = this.deps.log.child({ tenant, callId: call.id, callUuid: call.callUuid, roomId: call.roomId });
    const step = (to: TransferStatus, set?: TransferFields) => transferStep({ calls: this.deps.calls, events }, call, webhooks, to, set);
    const transfer = { to: input.transferTo, dialtone: input.playDialtone, outcome: null };
    const initiated = await step('transfer-initiated', { transfer });
    if (!initiated) throw new ConflictError(`Call ${input.callId} changed meanwhile: it is no longer answered, or is being switched to another room`);
    const alegUrl = callCallbackUrl(webhookUrl(this.deps.config.publicUrl, connector), call.id, 'xml');
    try {
      await this.deps.plivo.transfer(credentials, call.callUuid, { alegUrl });
    } catch (err) {
      const outcome = plivoFailure(err);
      // Not answered in time, Plivo may still run the transfer: the call stays `transfer-initiated` (its stream's end
      // does not end it) until Plivo fetches the transfer's XML, or hangs the call up.
      if (outcome === 'plivo-timeout') {
        log.warn('transfer not answered by Plivo in time: the call waits for the transfer or its hangup', { err: (err as Error).message });
        throw err;
      }
      log.warn('transfer refused by Plivo: the call stays in its room', { err: (err as Error).message });
      const failed = await step('transfer-failed', { transfer: { ...transfer, outcome } });
      // Answered in its room again, as after a failed dial: switchable, watched with its media server.
      if (failed && call.mediaServer) {
        const back = await this.deps.calls.answer(tenant, call.id, new Date().toISOString(), call.mediaServer, subscribes(webhooks, 'call-answered'));
        if (back) await publishCallEvent(events, 'call-answered', back, webhooks);
      }
      throw err;
    }
    log.info('transfer accepted by Plivo', { to: input.transferTo });
    // Plivo may already have fetched the transfer XML (transfer-ringing): the call is then shown as it is.
    return toCallView((await step('transferring')) ?? (await this.find(tenant, call.id)));
  }

  /**
   * `POST /v2/sip/call/switch-room`: records the move asked for (`switch-room-initiated`, one conditional write: the call
   * must be `answered`, in a room other than `roomId`, and not being switched already) and hands it to the media server
   * holding the call's stream, through its region's command queue; that server moves the stream in place, no Plivo round
   * trip, and records `switch-room-completed` or `-failed` (the sweeper records `-failed`, `timeout`, if it never does).
   * Answers the call as the request left it; a command that cannot be written fails the switch (`unavailable`) at once.
   */
  async switchRoom(tenant: string, input: SwitchRoomInput): Promise<CallView> {
    const events = this.events();
    const call = await this.find(tenant, input.callId);
    const { mediaServer, region, roomId: from } = call;
    if (call.status !== 'answered' || !mediaServer || !region || !from) throw new ConflictError(`Call ${call.id} is not live in a room (${call.status})`);
    const to = await this.deps.rooms.usableName(tenant, input.roomId, 'roomId');
    if (from === to) throw new ConflictError(`Call ${call.id} is in room ${from} already`);
    if (call.pendingSwitch) throw new ConflictError(`Call ${call.id} is being switched to another room already: wait for switch-room-completed or switch-room-failed`);
    const { webhooks } = await this.deps.rules.withConnector(tenant, call.connectorId);
    const now = Date.now();
    const command = { type: 'switch-room', id: newCommandId(now), tenant, callId: call.id, fromRoomId: from, roomId: to, at: now, expiresAtMs: now + COMMAND_TTL_MS } as const;
    const entry = { event: 'switch-room-initiated', from, to, at: new Date(now).toISOString() } as const;
    const initiated = await this.deps.calls.switchRoom(tenant, call.id, entry, command.id, subscribes(webhooks, entry.event));
    if (!initiated) throw new ConflictError(`Call ${call.id} is no longer live in room ${from}, is being switched already, or has been switched ${MAX_ROOM_SWITCHES} times`);
    const log = this.deps.log.child({ tenant, callId: call.id, from, to, mediaServer, commandId: command.id });
    try {
      await this.deps.commands(region).send(mediaServer, input.participantId === undefined ? command : { ...command, participantId: input.participantId });
    } catch (err) {
      log.error('switch-room command not written: the switch failed, the call stays in its room', { err });
      const failure = { event: 'switch-room-failed', from, to, at: new Date().toISOString(), reason: 'unavailable' } as const;
      const failed = await this.deps.calls.switchRoom(tenant, call.id, failure, command.id, subscribes(webhooks, failure.event));
      await publishCallEvent(events, entry.event, initiated, webhooks);
      if (failed) await publishCallEvent(events, failure.event, failed, webhooks);
      throw err;
    }
    log.info("switch-room sent to the call's media server", {});
    await publishCallEvent(events, entry.event, initiated, webhooks);
    return toCallView(initiated);
  }

  /** Where call events go; a call changed with nobody told of it would break the webhooks' promise, so none is. */
  private events(): WebhookEventSink {
    if (!this.deps.events) throw new ServiceUnavailableError('Call control needs the webhook queue (WEBHOOK_QUEUE_URL), which is not configured');
    return this.deps.events;
  }

  /** The tenant's call; 404 for an unknown id or another tenant's. */
  private async find(tenant: string, callId: string): Promise<CallRecord> {
    const call = CALL_ID.test(callId) ? await this.deps.calls.get(tenant, callId) : null;
    if (!call) throw new NotFoundError(`Call ${callId} not found`);
    return call;
  }

  /** The named connector, or the tenant's one connector holding Plivo credentials. */
  private async connectorFor(tenant: string, connectorId: string | undefined): Promise<Connector> {
    if (connectorId !== undefined) {
      const connector = await this.deps.connectors.get(tenant, connectorId);
      if (!connector) throw new NotFoundError(`Connector ${connectorId} not found`);
      return connector;
    }
    const able: Connector[] = [];
    for (let afterId: string | undefined; ; ) {
      const { items, lastId } = await this.deps.connectors.list(tenant, 100, afterId);
      able.push(...items.filter(this.deps.holdsCredentials));
      if (!lastId) break;
      afterId = lastId;
    }
    if (able.length === 1) return able[0] as Connector;
    if (able.length === 0) throw new ApiError(409, 'plivo_credentials_missing', 'No connector of this tenant holds plivoAuthId and plivoAuthToken: set them on the connector that places calls');
    throw new BadRequestError(`connectorId is required: ${able.length} connectors hold Plivo credentials`);
  }

  /** Polls the call until it is answered or over, for at most the ringing timeout (and MAX_WAIT_MS). */
  private async untilAnswered(tenant: string, id: string, ringingTimeout: number): Promise<CallView> {
    const deadline = Date.now() + Math.min(MAX_WAIT_MS, ringingTimeout * 1000 + 5000);
    for (;;) {
      const call = await this.find(tenant, id);
      if ((call.status !== 'initiated' && call.status !== 'ringing') || Date.now() >= deadline) return toCallView(call);
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  }
}
