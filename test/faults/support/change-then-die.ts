import { dynamoClient } from '../../../core/aws';
import { DynamoCallStore } from '../../../core/calls/store';
import type { CallEvent, CallEventType } from '../../../core/events';
import { createLogger } from '../../../core/log';
import { LOCAL_TABLE_NAME } from '../../../local/aws';
import { CallLifecycle } from '../../../ingest-container/src/calls/lifecycle';

/**
 * A media server's call lifecycle that dies the instant after it writes a call's state, before any delivery is
 * written (SIGKILL: no handler, no flush). Argv: DynamoDB endpoint, tenant, call id, and what it does:
 * - `answer` (the default): answers the call, and dies;
 * - `switch-twice`: answers the call, then moves it to room `elsewhere` and back, with `switch-room-completed` alone
 *   outboxed; the first completion's publish fails (nothing recorded), and it dies after writing the second.
 */
const [endpoint, tenant, callId, scenario = 'answer'] = process.argv.slice(2) as [string, string, string, string?];
const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: endpoint });
const calls = new DynamoCallStore(dynamo, LOCAL_TABLE_NAME);
/** What `switch-twice` subscribes to: the one event it outboxes. */
const subscribed: CallEventType[] = ['switch-room-completed'];
let completions = 0;
/** Whether publishing `event` is where this process dies; it loses the events before (their publish fails). */
function diesAt(event: CallEvent): boolean {
  if (scenario === 'answer') return true;
  if (event.type === 'switch-room-completed') completions++;
  return completions === 2;
}

const lifecycle = new CallLifecycle({
  calls,
  events: {
    publish: (event) => {
      if (!diesAt(event)) return Promise.resolve();
      process.kill(process.pid, 'SIGKILL');
      return new Promise<void>(() => undefined);
    },
  },
  ...(scenario !== 'answer' && { subscriptions: { subscribedEvents: () => Promise.resolve(new Set(subscribed)) } }),
  retentionDays: 1,
  serverId: 'crashing-server',
  log: createLogger('error', {}),
});

async function switchTwice(): Promise<void> {
  await lifecycle.answered(tenant, callId, subscribed);
  const room = (await calls.get(tenant, callId))?.roomId as string;
  for (const [from, to, switchId] of [[room, 'elsewhere', 'cmd-1'], ['elsewhere', room, 'cmd-2']] as const) {
    for (const event of ['switch-room-initiated', 'switch-room-completed'] as const) {
      if (!(await lifecycle.roomSwitch(tenant, callId, { event, from, to, at: new Date().toISOString() }, switchId, subscribed))) throw new Error(`${event} not recorded`);
    }
  }
}

void (scenario === 'answer' ? lifecycle.answered(tenant, callId) : switchTwice());
