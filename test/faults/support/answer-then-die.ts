import { dynamoClient } from '../../../core/aws';
import { DynamoCallStore } from '../../../core/calls/store';
import { createLogger } from '../../../core/log';
import { LOCAL_TABLE_NAME } from '../../../local/aws';
import { CallLifecycle } from '../../../ingest-container/src/calls/lifecycle';

/**
 * A media server's call lifecycle that dies the instant after it writes a call's state: `answered` writes the
 * record, then hands the event to a sink that kills this process (SIGKILL: no handler, no flush) before any
 * delivery is written. Argv: DynamoDB endpoint, tenant, call id.
 */
const [endpoint, tenant, callId] = process.argv.slice(2) as [string, string, string];
const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: endpoint });
const lifecycle = new CallLifecycle({
  calls: new DynamoCallStore(dynamo, LOCAL_TABLE_NAME),
  events: {
    publish: () => {
      process.kill(process.pid, 'SIGKILL');
      return new Promise<void>(() => undefined);
    },
  },
  retentionDays: 1,
  serverId: 'crashing-server',
  log: createLogger('error', {}),
});
void lifecycle.answered(tenant, callId);
