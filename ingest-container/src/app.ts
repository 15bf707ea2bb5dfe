import { randomUUID } from 'node:crypto';
import { dynamoClient, kmsClient } from '../../core/aws';
import { DynamoCallStore } from '../../core/calls/store';
import { claimStoreFor } from '../../core/claims';
import type { ControlPlaneConfig } from '../../core/config';
import { DynamoConnectorStore } from '../../core/connectors/store';
import type { Logger } from '../../core/log';
import { Authenticator } from '../../core/auth';
import { SecretBox } from '../../core/secret-box';
import { TenantStore } from '../../core/tenants';
import { webhookPublisher } from '../../core/webhooks/publisher';
import { CallLifecycle } from './calls';
import { MediaServer } from './server';

/** Builds a media server for one region from the shared configuration. */
export function createMediaServer(config: ControlPlaneConfig, region: string, log: Logger): MediaServer {
  const media = config.mediaRegions.find((r) => r.id === region);
  if (!media) throw new Error(`Media region ${region} is not configured (MEDIA_REGIONS)`);
  const dynamo = dynamoClient(config.aws);
  const box = new SecretBox(kmsClient(config.aws), config.kmsKeyId);
  return new MediaServer({
    region,
    serverId: `media-${randomUUID()}`,
    ingestUrl: media.ingestUrl,
    claims: claimStoreFor(config, dynamo),
    connectors: new DynamoConnectorStore(dynamo, config.tableName),
    box,
    auth: new Authenticator(new TenantStore(dynamo, config.tableName, box)),
    lifecycle: new CallLifecycle({
      calls: new DynamoCallStore(dynamo, config.tableName),
      events: webhookPublisher(config, dynamo, log),
      retentionDays: config.callRetentionDays,
      log,
    }),
    log,
  });
}
