import { ConflictError } from '../errors';
import type { Connector } from '../connectors/model';
import type { Logger } from '../log';
import type { PlivoCredentials, PlivoVoiceApi } from '../plivo/voice-api';
import type { RoutingRuleStore } from '../routing/store';
import { subscribes } from '../webhooks/model';
import { publishCallEvent, type WebhookEventSink } from '../webhooks/publisher';
import type { CallRecord } from './model';
import { callEnd, type CallStore } from './store';

export interface CallHangupDeps {
  readonly calls: Pick<CallStore, 'requestHangup' | 'withdrawHangup' | 'end' | 'get'>;
  /** The call's connector and the tenant's webhooks, in one read. */
  readonly rules: Pick<RoutingRuleStore, 'withConnector'>;
  /** The connector's Plivo account, or a 409 `plivo_credentials_missing` naming what it lacks. */
  readonly credentials: (connector: Connector) => Promise<PlivoCredentials>;
  readonly plivo: Pick<PlivoVoiceApi, 'hangup' | 'cancel'>;
  readonly events: WebhookEventSink;
  readonly retentionDays: number;
  readonly log: Logger;
}

/**
 * Ending a live call from our side, the one path `POST /v2/sip/call/end` (`api`) and the room protocol's `hangup`
 * (`kicked`) share: Plivo's Hang up (`DELETE …/Call/{CallUUID}/`; its 404 means the call had ended already), then the
 * record `ended` with `reason` and `call-hangup` fired once. The reason is said before Plivo is asked, so that the
 * stream Plivo then closes, if its end is recorded first, records this reason too; Plivo's refusal takes it back.
 */
export class CallHangup {
  constructor(private readonly deps: CallHangupDeps) {}

  /**
   * Hangs `call` up. An outbound call Plivo has not named yet (no CallUUID) is cancelled by its Make Call request id
   * (hung up by its CallUUID if it connected meanwhile); one with no request id recorded yet is ended here alone: its
   * first callback then hangs it up. Null when the call is not live (any more), or its stream's close ended it meanwhile. Throws a
   * 409 when its connector is gone or holds no Plivo credentials, and Plivo's failure (502, 504).
   */
  async hangUp(call: CallRecord, reason: string): Promise<CallRecord | null> {
    const { tenant, id } = call;
    const { connector, webhooks } = await this.deps.rules.withConnector(tenant, call.connectorId);
    if (!connector) throw new ConflictError(`Call ${id}'s connector no longer exists: Plivo cannot be asked to hang it up`);
    const { callUuid, requestUuid } = call;
    if (callUuid || requestUuid) {
      const credentials = await this.deps.credentials(connector);
      if (!(await this.deps.calls.requestHangup(tenant, id, reason))) return null;
      try {
        // Not connected yet (no CallUUID): the placed call is cancelled by its request id.
        let outcome = callUuid ? await this.deps.plivo.hangup(credentials, callUuid) : await this.deps.plivo.cancel(credentials, requestUuid as string);
        // Not cancellable: it connected meanwhile, and Plivo knows it by the CallUUID its first callback bound.
        const bound = !callUuid && outcome === 'already-ended' ? (await this.deps.calls.get(tenant, id))?.callUuid : null;
        if (bound) outcome = await this.deps.plivo.hangup(credentials, bound);
        this.deps.log.info('call hung up through Plivo', { tenant, callId: id, callUuid, requestUuid, roomId: call.roomId, reason, outcome });
      } catch (err) {
        await this.deps.calls.withdrawHangup(tenant, id);
        throw err;
      }
    }
    const ended = await this.deps.calls.end(tenant, id, callEnd(reason, call.answeredAt ? Date.parse(call.answeredAt) : null), this.deps.retentionDays, subscribes(webhooks, 'call-hangup'));
    if (ended) await publishCallEvent(this.deps.events, 'call-hangup', ended, webhooks);
    return ended;
  }
}
