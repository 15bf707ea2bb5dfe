import { DeleteItemCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TenantCounter } from './counter';
import { db, isConditionFailure, keysetWalk, queryAll, readStr, str, updateIfVersion, type Item } from './dynamo';
import { ConflictError } from './errors';
import { numberedPage, type NumberedPage, type PageRequest } from './pagination';

/** A tenant's resource kept as one JSON document: always read and written whole. */
export interface TenantDocument {
  readonly id: string;
  readonly tenant: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Storage port for one kind of tenant document, every call scoped to one tenant. */
export interface DocumentStore<T extends TenantDocument> {
  create(doc: T): Promise<void>;
  get(tenant: string, id: string): Promise<T | null>;
  /** Every document of the tenant, in id order. */
  all(tenant: string): Promise<T[]>;
  /** Replaces the document if it still has `expectedUpdatedAt`; false when it changed or vanished meanwhile. */
  replace(doc: T, expectedUpdatedAt: string): Promise<boolean>;
  delete(tenant: string, id: string): Promise<T | null>;
}

/** A document store whose documents are counted per tenant: listed by page number, optionally capped. */
export interface CountedDocumentStore<T extends TenantDocument> extends DocumentStore<T> {
  /** Newest first. */
  page(tenant: string, request: PageRequest): Promise<NumberedPage<T>>;
}

/**
 * Documents of one kind in the control table: under the tenant's partition (`T#tenant`), sort key
 * `prefix + id`, the fields other than the key ones as one JSON attribute.
 */
export class DynamoDocumentStore<T extends TenantDocument> implements DocumentStore<T> {
  constructor(
    protected readonly dynamo: DynamoDBClient,
    protected readonly tableName: string,
    private readonly kind: { readonly prefix: string; readonly type: string },
  ) {}

  protected key(tenant: string, id: string): Item {
    return { pk: str(`T#${tenant}`), sk: str(`${this.kind.prefix}${id}`) };
  }

  protected toItem(doc: T): Item {
    const { id, tenant, createdAt, updatedAt, ...body } = doc;
    return {
      ...this.key(tenant, id),
      type: str(this.kind.type),
      id: str(id),
      tenant: str(tenant),
      createdAt: str(createdAt),
      updatedAt: str(updatedAt),
      body: str(JSON.stringify(body)),
    };
  }

  /** The document an item of this kind holds. */
  fromItem(item: Item): T {
    const body = JSON.parse(readStr(item, 'body')) as Omit<T, keyof TenantDocument>;
    return {
      ...body,
      id: readStr(item, 'id'),
      tenant: readStr(item, 'tenant'),
      createdAt: readStr(item, 'createdAt'),
      updatedAt: readStr(item, 'updatedAt'),
    } as T;
  }

  async create(doc: T): Promise<void> {
    await db(() =>
      this.dynamo.send(new PutItemCommand({ TableName: this.tableName, Item: this.toItem(doc), ConditionExpression: 'attribute_not_exists(pk)' })),
    );
  }

  async get(tenant: string, id: string): Promise<T | null> {
    const out = await db(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(tenant, id), ConsistentRead: true })),
    );
    return out.Item ? this.fromItem(out.Item) : null;
  }

  async all(tenant: string): Promise<T[]> {
    const items = await queryAll(this.dynamo, this.tableName, `T#${tenant}`, { prefix: this.kind.prefix });
    return items.map((item) => this.fromItem(item));
  }

  replace(doc: T, expectedUpdatedAt: string): Promise<boolean> {
    return updateIfVersion(this.dynamo, this.tableName, this.toItem(doc), expectedUpdatedAt);
  }

  /** The deleted document; null when there was none, or `condition` did not hold of it (nothing deleted). */
  async delete(tenant: string, id: string, condition?: ItemCondition): Promise<T | null> {
    try {
      const out = await db(() =>
        this.dynamo.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: this.key(tenant, id),
            ReturnValues: 'ALL_OLD',
            ...(condition && { ConditionExpression: condition.expression, ExpressionAttributeValues: condition.values }),
          }),
        ),
      );
      return out.Attributes ? this.fromItem(out.Attributes) : null;
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }
}

/** A DynamoDB condition on an item's attributes, with its values. */
export interface ItemCondition {
  readonly expression: string;
  readonly values: Item;
}

/**
 * Documents counted per tenant (`TenantCounter`), for numbered listings and, with `cap`, a limit that holds however
 * many creates race: a create takes its count with one conditional write before the document is written.
 */
export class CountedDynamoDocumentStore<T extends TenantDocument> extends DynamoDocumentStore<T> implements CountedDocumentStore<T> {
  private readonly counter: TenantCounter;

  constructor(
    dynamo: DynamoDBClient,
    tableName: string,
    private readonly counted: {
      readonly prefix: string;
      readonly type: string;
      readonly cap?: { readonly max: number; readonly message: string };
      /** How long the count must be still before it is corrected (`TenantCounter`). */
      readonly settleMs?: number;
    },
  ) {
    super(dynamo, tableName, counted);
    this.counter = new TenantCounter(dynamo, tableName, counted.type, counted.settleMs);
  }

  /** Throws a ConflictError at the cap. */
  override async create(doc: T): Promise<void> {
    const max = this.counted.cap?.max;
    // At the cap, the count may be high from a create that died between its writes: corrected from the documents.
    if (!(await this.counter.take(doc.tenant, max)) && !(await this.recountAndTake(doc.tenant, max))) {
      throw new ConflictError(this.counted.cap?.message ?? 'At the limit');
    }
    try {
      await super.create(doc);
    } catch (err) {
      // Refused as already there: the SDK's retry of a put that landed (ids are random). The count stays taken.
      if (isConditionFailure(err) && (await this.get(doc.tenant, doc.id))?.createdAt === doc.createdAt) return;
      await this.counter.give(doc.tenant);
      throw err;
    }
  }

  override async delete(tenant: string, id: string, condition?: ItemCondition): Promise<T | null> {
    const deleted = await super.delete(tenant, id, condition);
    if (deleted) await this.counter.give(tenant);
    return deleted;
  }

  page(tenant: string, request: PageRequest): Promise<NumberedPage<T>> {
    return numberedPage(request, {
      total: () => this.counter.read(tenant),
      walk: async (skip, take) => {
        const { items, total } = await keysetWalk(this.dynamo, this.tableName, `T#${tenant}`, this.counted.prefix, skip, take);
        return { items: items.map((item) => this.fromItem(item)), total };
      },
      count: async () => (await queryAll(this.dynamo, this.tableName, `T#${tenant}`, { prefix: this.counted.prefix }, { ProjectionExpression: 'pk' })).length,
      recount: async (counted, actual) => {
        await this.counter.correct(tenant, counted, actual);
      },
    });
  }

  private async recountAndTake(tenant: string, max: number | undefined): Promise<boolean> {
    const [counted, docs] = await Promise.all([this.counter.read(tenant), this.all(tenant)]);
    return docs.length < counted && (await this.counter.correct(tenant, counted, docs.length)) && this.counter.take(tenant, max);
  }
}
