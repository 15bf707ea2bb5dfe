import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CountedDynamoDocumentStore } from '../documents';
import { MAX_AGENTS_PER_TENANT, type Agent } from './model';

/** Agents, at most MAX_AGENTS_PER_TENANT per tenant however many creates race (the counter takes each first). */
export class DynamoAgentStore extends CountedDynamoDocumentStore<Agent> {
  constructor(dynamo: DynamoDBClient, tableName: string) {
    super(dynamo, tableName, {
      prefix: 'AG#',
      type: 'agent',
      cap: { max: MAX_AGENTS_PER_TENANT, message: `A tenant can have at most ${MAX_AGENTS_PER_TENANT} agents; delete one first` },
    });
  }
}
