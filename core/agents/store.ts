import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CountedDynamoDocumentStore, type CountedDocumentStore } from '../documents';
import { conditionalWrite, num } from '../dynamo';
import { MAX_AGENTS_PER_TENANT, type Agent } from './model';

/**
 * By default, references changed this recently may belong to a rule write between its two steps (the agent referenced,
 * the rule not yet written). Well above the API function's timeout (10 s): a write older than this has died.
 */
const SETTLE_MS = 60_000;

/** How routing rules hold the agents they name (`agentId`): an agent is not deleted while one does. */
export interface AgentReferences {
  /** Counts one more rule naming the agent, before that rule is written; false (nothing counted) when there is no such agent. */
  reference(tenant: string, agentId: string): Promise<boolean>;
  /** Counts one fewer, after a rule stopped naming the agent (changed, deleted, or its write failed). */
  release(tenant: string, agentId: string): Promise<void>;
}

export interface AgentStore extends CountedDocumentStore<Agent>, AgentReferences {
  /**
   * Deletes the agent, the caller having found no rule that names it, unless a rule write referenced it recently
   * (within the settle time: it may be about to name it). References older than that are left by writes that died
   * between their steps, and do not hold the agent. The deleted agent; null when there was none, or it is held.
   */
  deleteUnreferenced(tenant: string, id: string): Promise<Agent | null>;
}

/**
 * Agents, at most MAX_AGENTS_PER_TENANT per tenant however many creates race (the counter takes each first), each item
 * counting the rules that name it (`refs`, changed at `refsChangedAt`). A rule write references its agent with one
 * conditional write on the agent's item (it must exist) before the rule is written, and releases it after the rule
 * stopped naming it; a delete is conditional on that count. So a rule never names a deleted agent and an agent is never
 * deleted while named, with single-item writes only (the embedded DynamoDB, dynalite, has no transactions). A write
 * that dies between its steps leaves the count high: the agent's delete, having found no rule naming it, ignores a
 * count that has been still for `settleMs`. The document writes (`replace`) leave the count as it is.
 */
export class DynamoAgentStore extends CountedDynamoDocumentStore<Agent> implements AgentStore {
  constructor(
    dynamo: DynamoDBClient,
    tableName: string,
    private readonly settleMs = SETTLE_MS,
  ) {
    super(dynamo, tableName, {
      prefix: 'AG#',
      type: 'agent',
      cap: { max: MAX_AGENTS_PER_TENANT, message: `A tenant can have at most ${MAX_AGENTS_PER_TENANT} agents; delete one first` },
    });
  }

  reference(tenant: string, agentId: string): Promise<boolean> {
    return this.count(tenant, agentId, 1, 'attribute_exists(pk)');
  }

  async release(tenant: string, agentId: string): Promise<void> {
    await this.count(tenant, agentId, -1, 'refs > :zero');
  }

  deleteUnreferenced(tenant: string, id: string): Promise<Agent | null> {
    return this.delete(tenant, id, {
      expression: 'attribute_not_exists(refs) OR refs <= :zero OR refsChangedAt < :settled',
      values: { ':zero': num(0), ':settled': num(Date.now() - this.settleMs) },
    });
  }

  /** Adds `delta` to the agent's references if `condition` holds; false when it did not. */
  private count(tenant: string, agentId: string, delta: number, condition: string): Promise<boolean> {
    return conditionalWrite(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(tenant, agentId),
          UpdateExpression: 'ADD refs :delta SET refsChangedAt = :now',
          ConditionExpression: condition,
          ExpressionAttributeValues: { ':delta': num(delta), ':now': num(Date.now()), ...(delta < 0 && { ':zero': num(0) }) },
        }),
      ),
    );
  }
}
