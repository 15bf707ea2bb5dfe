import { agentDial, type Agent } from './agents/model';
import { BoundedMap } from './bounded-map';
import { CALL_ID, CALL_STATUSES, callIdFor, type CallRecord, type TransferStatus } from './calls/model';
import type { CallStore, StreamReport, TransferFields } from './calls/store';
import { transferStep } from './calls/transfer';
import { newClaimRef, type Claim, type ClaimStore } from './claims';
import type { ControlPlaneConfig } from './config';
import { callCallbackUrl, type Connector } from './connectors/model';
import { PlivoAuthTokens } from './connectors/plivo-tokens';
import { ROOM_ID } from './connectors/schema';
import { holdsWebhookKey, type ConnectorStore, type KeyOwner } from './connectors/store';
import type { Logger } from './log';
import { streamDegradedMetric } from './metrics';
import { SIGNATURE_REFUSALS, type Params } from './plivo/signature';
import { streamReportKind } from './plivo/stream-status';
import { dialXml, EMPTY_RESPONSE_XML, HANGUP_REJECTED_XML, HANGUP_XML, streamXml } from './plivo/xml';
import { callerAllowed, holdsNumber, mediaRegionFor, roomFor, ruleAttributes, type CallParties, type RoutingRule } from './routing/model';
import type { CallSetup, RoutingRuleStore } from './routing/store';
import type { DocumentStore } from './documents';
import { subscribedEvents, subscribes, type Webhook } from './webhooks/model';
import { publishCallEvent, type WebhookEventSink } from './webhooks/publisher';
import type { SecretBox } from './secret-box';
import { roomName } from './room-records/model';
import type { RoomNames } from './room-records/service';

/** One Answer URL request as Plivo sent it. */
export interface AnswerRequest {
  readonly webhookKey: string;
  readonly method: string;
  /** The external URL Plivo called (PUBLIC_URL + path + query): what Plivo signed. */
  readonly url: string;
  readonly query: Params;
  /** Form fields of a POST; empty for GET. */
  readonly form: Params;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
}

export interface AnswerResult {
  readonly status: number;
  readonly xml: string;
}

const WEBHOOK_KEY = /^whk_[0-9A-Za-z]{32,64}$/;
const MAX_CALL_UUID = 128;
/**
 * Plivo's CallUUIDs. V3 signs `name` + `value` of each parameter with no separator, so a captured
 * request re-split (CallUUID's value swallowing `CallerName` + its value, say) verifies as well: a
 * signed request must name its call in this exact form, which no re-split can produce for another call.
 */
const PLIVO_CALL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * A call's Duration is believed up to a week; beyond it (1e200, say: a number DynamoDB cannot store), and when
 * it is not a number, it is recorded as unknown (NaN and Infinity compare false). Negative ones count as 0.
 */
const MAX_CALL_SECONDS = 7 * 86_400;

/** Plivo's StreamID and Timestamp are kept up to this long: they only tell reports apart. */
const MAX_STREAM_FIELD = 128;

/** Per-instance caches stay bounded: past this many entries they start over. */
const CACHE_ENTRIES = 1000;

/**
 * How long after its claim expired a call that is still waiting for its stream counts as missed: a
 * stream that took the claim at the last moment has had time to send `start` (the media service waits
 * 10 s for it) and to mark the call answered.
 */
const MISSED_GRACE_SECONDS = 15;

/** When the sweeper ends `call` as missed if Plivo has not opened its stream. */
export const missedAt = (call: CallRecord, claimTtlSeconds: number): string =>
  new Date(Date.parse(call.startedAt) + (claimTtlSeconds + MISSED_GRACE_SECONDS) * 1000).toISOString();

/** An outbound call that Plivo hung up before it was answered, by Plivo's `CallStatus`. */
const UNANSWERED: Readonly<Record<string, 'failed' | 'not-answered' | undefined>> = { busy: 'failed', failed: 'failed', 'no-answer': 'not-answered', timeout: 'not-answered', cancel: 'not-answered' };

const reject = (status: number): AnswerResult => ({ status, xml: HANGUP_REJECTED_XML });

const NO_SETUP: CallSetup = { connector: null, rules: [], webhooks: [] };

type Route =
  | { roomId: string; rule: RoutingRule | null; via: 'query' | 'rule' | 'default-rule' | 'default-room' }
  | { rejected: string; rule: RoutingRule | null };

/** What a call takes from the rule that routed it, into its claim. */
type CallOptions = Pick<Claim, 'agent' | 'hidePhoneNumber' | 'dtmf' | 'attributes' | 'record'>;

const NO_RULE: CallOptions = { agent: null, hidePhoneNumber: false, dtmf: true, attributes: {} };

/**
 * The Answer URL: decides in one request where a ringing call goes. Finds the connector by its webhook
 * key, checks Plivo's signature when the connector holds an auth token, routes the call to a room,
 * picks the media region, writes a single-use claim there and answers the `<Stream>` XML. Retries of
 * the same CallUUID get the same answer; `Event=Hangup` posts end the call record.
 */
export class AnswerService {
  /** Where live webhook keys point (the key index's answer), so a call costs one read, not two. */
  private readonly owners = new BoundedMap<string, KeyOwner>(CACHE_ENTRIES);

  private readonly tokens: PlivoAuthTokens;

  constructor(
    private readonly deps: {
      readonly connectors: ConnectorStore;
      readonly rules: RoutingRuleStore;
      /** Read for the agent a rule names (`agentId`), on the calls it routes. */
      readonly agents: Pick<DocumentStore<Agent>, 'get'>;
      readonly calls: CallStore;
      /** The routed room, by its name: one read on every call routed to a room, a write on the room's first use. */
      readonly rooms: Pick<RoomNames, 'joined' | 'named'>;
      readonly claims: ClaimStore;
      readonly box: SecretBox;
      readonly events: WebhookEventSink;
      readonly config: Pick<ControlPlaneConfig, 'mediaRegions' | 'homeMediaRegion' | 'countryRegions' | 'claimTtlSeconds' | 'callRetentionDays'>;
      readonly log: Logger;
    },
  ) {
    this.tokens = new PlivoAuthTokens(deps.box);
  }

  async answer(request: AnswerRequest): Promise<AnswerResult> {
    const { webhookKey } = request;
    // A key never changes owner, so where it points can be remembered; whether the connector still
    // holds it is checked on every request, on a consistent read. Unknown, rotated and deleted keys
    // are never remembered: they cost one index read and get the same 404.
    const remembered = this.owners.get(webhookKey);
    const owner = remembered ?? (WEBHOOK_KEY.test(webhookKey) ? await this.deps.connectors.webhookKeyOwner(webhookKey) : null);
    const { connector: found, rules, webhooks } = owner ? await this.deps.rules.withConnector(owner.tenant, owner.connectorId) : NO_SETUP;
    const connector = found && holdsWebhookKey(found, webhookKey) ? found : null;
    if (!connector) {
      if (remembered) this.owners.delete(webhookKey);
      this.deps.log.info('answer refused: unknown webhook key', { status: 404 });
      return reject(404);
    }
    if (!remembered && owner) this.owners.set(webhookKey, owner);
    const log = this.deps.log.child({ tenant: connector.tenant, connectorId: connector.id });
    const check = await this.tokens.verify(connector, {
      method: request.method,
      url: request.url,
      params: request.method === 'GET' ? new Map() : request.form,
      headers: request.headers,
    });
    if (check !== 'valid' && check !== 'unsigned') {
      log.warn(`answer refused: ${SIGNATURE_REFUSALS[check]}`, { status: 403 });
      return reject(403);
    }
    const signed = check === 'valid';
    const fields = request.method === 'GET' ? request.query : request.form;
    const field = (name: string): string => fields.get(name)?.[0]?.trim() ?? '';
    const callUuid = field('CallUUID');
    if (!callUuid || callUuid.length > MAX_CALL_UUID || (signed && !PLIVO_CALL_UUID.test(callUuid))) {
      log.warn('answer refused: CallUUID missing, or (signed) not a UUID', { status: 400 });
      return reject(400);
    }
    // Stream status callbacks name their call (`?callId=`), as an outbound call's callbacks do: its id is not its
    // CallUUID's, and Plivo's first callback binds the two.
    const placed = request.query.get('callId')?.[0];
    const callId = placed ?? callIdFor(callUuid);
    const callLog = log.child({ callUuid, callId });
    const streamKind = streamReportKind(field('Event'));
    if (streamKind) return this.streamStatus(connector, webhooks, placed ?? '', callUuid, streamKind, field, callLog);
    const named = placed === undefined ? null : await this.namedCall(connector, placed, callUuid, signed);
    if (placed !== undefined && !named) {
      callLog.warn('callback refused: unsigned, or no call of the tenant with that id and CallUUID', { status: 404 });
      return reject(404);
    }
    if (field('Event').toLowerCase() === 'hangup') return this.hangup(connector, webhooks, callId, field, callLog);
    const transferStep = request.query.get('transfer')?.[0];
    if (named && transferStep !== undefined) return this.transferCallback(named, transferStep, rules, webhooks, fields, request.url, callLog);
    if (named?.type === 'outbound') return this.outboundCallback(named, rules, webhooks, fields, request.url, callLog);
    if (named) {
      callLog.warn('callback refused: an inbound call named by id, for no transfer', { status: 404 });
      return reject(404);
    }

    const parties: CallParties = { callUuid, from: field('From'), to: field('To') };
    const route = await this.admitRoom(connector.tenant, this.route(connector, rules, parties, request.query.get('roomId')?.[0]));
    const now = new Date();
    const base = {
      id: callIdFor(callUuid),
      tenant: connector.tenant,
      type: 'inbound' as const,
      callUuid,
      provider: connector.provider,
      connectorId: connector.id,
      from: parties.from,
      to: parties.to,
      hidePhoneNumber: false,
      startedAt: now.toISOString(),
      answeredAt: null,
      durationSeconds: null,
      hangupCause: null,
      stream: null,
      metadata: {},
    };
    if ('rejected' in route) {
      const record: CallRecord = {
        ...base,
        ruleId: route.rule?.id ?? null,
        hidePhoneNumber: route.rule?.hidePhoneNumber ?? false,
        roomId: null,
        region: null,
        status: 'rejected',
        timelog: [{ status: 'rejected', at: base.startedAt }],
        endedAt: base.startedAt,
        hangupReason: route.rejected,
        agentStatus: null,
        claimRef: null,
      };
      if (!(await this.deps.calls.create(record, this.deps.config.callRetentionDays, undefined, subscribes(webhooks, 'call-hangup')))) return this.replayStored(connector, rules, webhooks, callUuid, fields, request.url);
      callLog.info('call rejected', { reason: route.rejected });
      await publishCallEvent(this.deps.events, 'call-hangup', record, webhooks);
      return { status: 200, xml: HANGUP_REJECTED_XML };
    }

    const region = mediaRegionFor(this.deps.config, connector, parties.from);
    const options = await this.callOptions(connector.tenant, route.rule, fields, callLog);
    const record: CallRecord = {
      ...base,
      ruleId: route.rule?.id ?? null,
      roomId: route.roomId,
      region,
      status: 'incoming',
      timelog: [{ status: 'incoming', at: base.startedAt }],
      endedAt: null,
      hangupReason: null,
      agentStatus: options.agent ? 'pending' : null,
      claimRef: newClaimRef(),
      hidePhoneNumber: options.hidePhoneNumber,
    };
    // Record and claim in parallel, one round trip. The record's conditional write makes a retried
    // request (or a concurrent twin) replay the first answer; the claim such a loser wrote is never
    // handed out and lapses unused (nothing links it to the call: the record names the winner's ref).
    const [created] = await Promise.all([
      this.deps.calls.create(record, this.deps.config.callRetentionDays, missedAt(record, this.deps.config.claimTtlSeconds), subscribes(webhooks, 'call-started')),
      this.deps.claims.create(this.claimFor(record, options, webhooks)),
    ]);
    if (!created) return this.replayStored(connector, rules, webhooks, callUuid, fields, request.url);
    callLog.info('call routed', { roomId: route.roomId, ruleId: record.ruleId, via: route.via, region });
    await publishCallEvent(this.deps.events, 'call-started', record, webhooks);
    return { status: 200, xml: streamXml(this.streamUrl(region, record.claimRef as string), callCallbackUrl(request.url, record.id), route.rule ?? {}) };
  }

  /**
   * What the call takes from its rule: the agent it names (resolved now, its metadata overlaid by the rule's
   * `agentMetadata`; a rule whose agent is gone routes the call without one), masking, DTMF, header attributes, recording.
   */
  private async callOptions(tenant: string, rule: RoutingRule | null, fields: Params, log: Logger): Promise<CallOptions> {
    if (!rule) return NO_RULE;
    const agent = rule.agentId ? await this.deps.agents.get(tenant, rule.agentId) : null;
    if (rule.agentId && !agent) log.warn('the rule names an agent that no longer exists: routed without it', { ruleId: rule.id, agentId: rule.agentId });
    return {
      agent: agent && agentDial(agent, rule.agentMetadata),
      hidePhoneNumber: rule.hidePhoneNumber,
      dtmf: rule.dtmf,
      attributes: ruleAttributes(rule, fields),
      ...(rule.recording && { record: true as const }),
    };
  }

  /**
   * The claim a call's stream needs; it expires CLAIM_TTL_SECONDS after `fromMs` (when the call was routed, or the
   * outbound call answered). It names the events the tenant's webhooks subscribe to now, so the media server outboxes
   * them without reading the webhooks.
   */
  private claimFor(call: CallRecord, options: CallOptions, webhooks: readonly Webhook[], fromMs = Date.parse(call.startedAt)): Claim {
    return {
      ref: call.claimRef as string,
      callUuid: call.callUuid as string,
      callId: call.id,
      tenant: call.tenant,
      connectorId: call.connectorId,
      roomId: call.roomId as string,
      ruleId: call.ruleId,
      region: call.region as string,
      from: call.from,
      to: call.to,
      expiresAtMs: fromMs + this.deps.config.claimTtlSeconds * 1000,
      ...options,
      events: subscribedEvents(webhooks),
      ...(call.participant && { participant: call.participant }),
      ...(call.record && { record: true as const }),
    };
  }

  /**
   * `?roomId` first; then the inbound rule holding the called number (at most one does: the API keeps each number to
   * one inbound rule); then the connector's `defaultRuleId`; then its `defaultRoomId`. A rule refuses callers outside
   * its `allowedNumbers`.
   */
  private route(connector: Connector, rules: readonly RoutingRule[], call: CallParties, roomIdParam: string | undefined): Route {
    if (roomIdParam !== undefined) {
      return ROOM_ID.test(roomIdParam) ? { roomId: roomIdParam, rule: null, via: 'query' } : { rejected: 'invalid-room-id', rule: null };
    }
    const matched = rules.find((rule) => holdsNumber(rule, call.to));
    const fallback = connector.defaultRuleId ? rules.find((rule) => rule.id === connector.defaultRuleId) : undefined;
    const rule = matched ?? fallback;
    if (rule?.room) {
      if (!callerAllowed(rule, call.from)) return { rejected: 'caller-not-allowed', rule };
      return { roomId: roomFor(rule.room, call), rule, via: matched ? 'rule' : 'default-rule' };
    }
    if (connector.defaultRoomId) return { roomId: connector.defaultRoomId, rule: null, via: 'default-room' };
    return { rejected: 'no-route', rule: null };
  }

  /**
   * The routed room's record (created on first use): a deactivated room rejects the call (`room-deactivated`); any
   * other takes it under the name the room is kept by, so its `roomId` and `customRoomId` reach the same room.
   */
  private async admitRoom(tenant: string, route: Route): Promise<Route> {
    if ('rejected' in route) return route;
    // A dynamic rule names a room per call: its rooms are checked, never recorded (a record per call would pile up).
    const perCall = route.via !== 'query' && route.via !== 'default-room' && route.rule?.room?.type === 'dynamic';
    const room = perCall ? await this.deps.rooms.named(tenant, route.roomId) : await this.deps.rooms.joined(tenant, route.roomId);
    if (!room) return route;
    return room.disabled ? { rejected: 'room-deactivated', rule: route.rule } : { ...route, roomId: roomName(room) };
  }

  private streamUrl(region: string, ref: string): string {
    const ingest = this.deps.config.mediaRegions.find((r) => r.id === region)?.ingestUrl;
    if (!ingest) throw new Error(`Media region ${region} is not configured`);
    return `${ingest}/plivo?ref=${encodeURIComponent(ref)}`;
  }

  /**
   * Answers a retry as the first attempt was answered. The claim is written again if the first
   * attempt died between its two writes (a no-op otherwise: claims are create-once).
   */
  private async replayStored(connector: Connector, rules: readonly RoutingRule[], webhooks: readonly Webhook[], callUuid: string, fields: Params, answerUrl: string): Promise<AnswerResult> {
    const call = await this.deps.calls.get(connector.tenant, callIdFor(callUuid));
    if (!call) throw new Error('Call record vanished after a conditional write failed');
    const log = this.deps.log.child({ callUuid, callId: call.id });
    log.info('answer retried: same call, same answer', { status: call.status });
    if (call.status === 'rejected' || !call.claimRef || !call.region) return { status: 200, xml: HANGUP_REJECTED_XML };
    const rule = rules.find((candidate) => candidate.id === call.ruleId) ?? null;
    if (call.status === 'incoming') await this.deps.claims.createOnce(this.claimFor(call, await this.callOptions(connector.tenant, rule, fields, log), webhooks));
    return { status: 200, xml: streamXml(this.streamUrl(call.region, call.claimRef), callCallbackUrl(answerUrl, call.id), rule ?? {}) };
  }

  /**
   * The call `id` of the connector, bound to Plivo's `callUuid` (an outbound call's first callback binds it): null
   * when the callback is unsigned (call control needs the connector's token, so Plivo signs them all), names no call
   * of this connector, or one that Plivo named otherwise.
   */
  private async namedCall(connector: Connector, id: string, callUuid: string, signed: boolean): Promise<CallRecord | null> {
    return signed && CALL_ID.test(id) ? this.deps.calls.bindCallUuid(connector.tenant, id, callUuid, connector.id) : null;
  }

  /**
   * A transfer's callbacks (`POST /v2/sip/call/transfer` asked Plivo to run `xml` next): `xml` answers the `<Dial>` to
   * the target (`transfer-ringing`); `dial` hears the target answer (`transfer-accepted`, then `transferred`);
   * `action` hears how the dial ended: a target that talked and hung up ends the call, any other outcome fails the
   * transfer and answers a `<Stream>` back into the call's room, with a new claim.
   */
  private async transferCallback(call: CallRecord, step: string, rules: readonly RoutingRule[], webhooks: readonly Webhook[], fields: Params, answerUrl: string, log: Logger): Promise<AnswerResult> {
    const field = (name: string): string => fields.get(name)?.[0]?.trim().toLowerCase() ?? '';
    const { transfer } = call;
    if (!transfer) return reject(404);
    const moveTo = async (to: TransferStatus, set?: TransferFields): Promise<CallRecord | null> => {
      const moved = await transferStep(this.deps, call, webhooks, to, set);
      if (moved) log.info('transfer', { status: to, to: transfer.to });
      return moved;
    };
    if (step === 'xml') {
      const ringing = (await moveTo('transfer-ringing')) ?? (call.status === 'transfer-ringing' ? call : null);
      if (!ringing) return { status: 200, xml: HANGUP_XML };
      return { status: 200, xml: dialXml(transfer.to, { action: callCallbackUrl(answerUrl, call.id, 'action'), callbackUrl: callCallbackUrl(answerUrl, call.id, 'dial') }, transfer.dialtone) };
    }
    if (step === 'dial') {
      if (field('DialAction') === 'answer' && (await moveTo('transfer-accepted'))) await moveTo('transferred');
      return { status: 200, xml: EMPTY_RESPONSE_XML };
    }
    if (step !== 'action') return reject(404);
    if (field('DialStatus') === 'completed') return { status: 200, xml: HANGUP_XML };
    const failed = (await moveTo('transfer-failed', { transfer: { ...transfer, outcome: field('DialStatus') || 'failed' }, claimRef: newClaimRef() })) ?? (call.status === 'transfer-failed' ? call : null);
    if (!failed?.claimRef || !failed.region) return { status: 200, xml: HANGUP_XML };
    const rule = rules.find((candidate) => candidate.id === failed.ruleId) ?? null;
    await this.deps.claims.createOnce(this.claimFor(failed, await this.callOptions(failed.tenant, rule, fields, log), webhooks, Date.now()));
    log.info('transfer failed: the caller goes back to its room', { roomId: failed.roomId, outcome: field('DialStatus') });
    return { status: 200, xml: streamXml(this.streamUrl(failed.region, failed.claimRef), callCallbackUrl(answerUrl, failed.id), rule ?? {}) };
  }

  /**
   * Plivo's `ring_url` (`CallStatus=ringing`): the call rings. Its `answer_url`: the callee answered; the call's claim
   * is written now and the `<Stream>` answered, as for an inbound call (the same XML to a retry). A call that ended
   * meanwhile (the API ended it, Plivo gave up) is hung up.
   */
  private async outboundCallback(call: CallRecord, rules: readonly RoutingRule[], webhooks: readonly Webhook[], fields: Params, answerUrl: string, log: Logger): Promise<AnswerResult> {
    if (fields.get('CallStatus')?.[0]?.trim().toLowerCase() === 'ringing') {
      const rang = await this.deps.calls.ring(call.tenant, call.id, new Date().toISOString(), subscribes(webhooks, 'call-ringing'));
      if (rang) {
        log.info('outbound call ringing', {});
        await publishCallEvent(this.deps.events, 'call-ringing', rang, webhooks);
      }
      return { status: 200, xml: EMPTY_RESPONSE_XML };
    }
    if (!['initiated', 'ringing', 'answered'].includes(call.status) || !call.claimRef || !call.region) {
      log.info('outbound call answered after it ended: hung up', { status: call.status });
      return { status: 200, xml: HANGUP_REJECTED_XML };
    }
    const rule = rules.find((candidate) => candidate.id === call.ruleId) ?? null;
    if (call.status !== 'answered') await this.deps.claims.createOnce(this.claimFor(call, await this.callOptions(call.tenant, rule, fields, log), webhooks, Date.now()));
    log.info('outbound call answered: streaming', { roomId: call.roomId, region: call.region });
    return { status: 200, xml: streamXml(this.streamUrl(call.region, call.claimRef), callCallbackUrl(answerUrl, call.id), rule ?? {}) };
  }

  /**
   * Plivo's hangup callback: a call whose stream never joined its room ends `abandoned` (inbound) or, per Plivo's
   * `CallStatus`, `failed` or `not-answered` (outbound); an answered one `ended` (tried in that order: a call answered
   * between the writes is then ended).
   */
  private async hangup(connector: Connector, webhooks: readonly Webhook[], callId: string, field: (name: string) => string, log: Logger): Promise<AnswerResult> {
    const duration = Number(field('Duration') || field('BillDuration'));
    const end = {
      endedAt: new Date().toISOString(),
      durationSeconds: field('Duration') !== '' && duration <= MAX_CALL_SECONDS ? Math.max(0, Math.round(duration)) : null,
      hangupReason: (field('HangupCauseName') || field('HangupCause') || 'completed').slice(0, 128),
      ...(field('HangupCauseCode') && { hangupCause: field('HangupCauseCode').slice(0, 32) }),
    };
    const { calls, config } = this.deps;
    const args = [connector.tenant, callId, end, config.callRetentionDays, subscribes(webhooks, 'call-hangup')] as const;
    const unanswered = UNANSWERED[field('CallStatus').toLowerCase()];
    const ended =
      (await calls.abandon(...args)) ??
      (unanswered && (await calls.unanswered(connector.tenant, callId, unanswered, end, config.callRetentionDays, subscribes(webhooks, CALL_STATUSES[unanswered].event)))) ??
      (await calls.end(...args));
    if (ended) {
      log.info('call ended by Plivo hangup', { status: ended.status, hangupReason: ended.hangupReason, durationSeconds: ended.durationSeconds });
      await publishCallEvent(this.deps.events, CALL_STATUSES[ended.status].event, ended, webhooks);
    } else {
      log.info('hangup for a call that is not live', {});
    }
    return { status: 200, xml: EMPTY_RESPONSE_XML };
  }

  /**
   * Plivo's stream status callback for the call `callId` names (the tenant's, on this connector, holding the posted
   * CallUUID; else 404): a start or a stop goes to its timelog, a degradation or a drop to `additionalDetails.stream`
   * and fires `call-update`. A retry (same event, StreamID and Timestamp) changes nothing and fires nothing.
   */
  private async streamStatus(connector: Connector, webhooks: readonly Webhook[], callId: string, callUuid: string, kind: StreamReport['kind'], field: (name: string) => string, log: Logger): Promise<AnswerResult> {
    const call = CALL_ID.test(callId) ? await this.deps.calls.get(connector.tenant, callId) : null;
    if (!call || call.connectorId !== connector.id || call.callUuid !== callUuid) {
      log.warn('stream status refused: no such call on this connector, or it holds another CallUUID', { status: 404, event: field('Event'), callIdParam: callId.slice(0, 64) });
      return reject(404);
    }
    const streamId = field('StreamID').slice(0, MAX_STREAM_FIELD);
    const report = { kind, streamId, key: `${kind}#${streamId}#${field('Timestamp').slice(0, MAX_STREAM_FIELD)}`, at: new Date().toISOString() };
    const updated = await this.deps.calls.streamReport(connector.tenant, call.id, callUuid, report, subscribes(webhooks, 'call-update'));
    if (!updated) {
      log.info('stream status not recorded: a retry, or the call has MAX_STREAM_REPORTS', { event: kind, streamId });
      return { status: 200, xml: EMPTY_RESPONSE_XML };
    }
    // A degradation is also a data point of its media region's StreamsDegraded metric (the call streams there).
    log.info('stream status recorded', { event: kind, streamId, ...(kind === 'degraded' && call.region !== null && streamDegradedMetric(call.region)) });
    if (updated.stream && (kind === 'degraded' || kind === 'dropped')) await publishCallEvent(this.deps.events, 'call-update', updated, webhooks);
    return { status: 200, xml: EMPTY_RESPONSE_XML };
  }
}
