import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../../core/dynamo';

export interface DataTableProps {
  /** Customer managed key that encrypts the table at rest. */
  readonly encryptionKey: IKey;
  /** @default RemovalPolicy.RETAIN - tenants' connectors and call records outlive the stack */
  readonly removalPolicy?: RemovalPolicy;
}

/** The shape every table of ours shares: generic string keys, on demand, point-in-time recovery, TTL. */
export const TABLE_SHAPE = {
  partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
  sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
  billingMode: BillingMode.PAY_PER_REQUEST,
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  timeToLiveAttribute: TABLE_KEYS.timeToLive,
} as const;

/**
 * The single-table store: generic `pk`/`sk` string keys, on-demand capacity, point-in-time recovery, and TTL on
 * `expiresAt` (epoch seconds). TTL deletes lazily, hours late, so readers still check expiry themselves.
 * Two global secondary indexes: `byTime` (`gsi1pk`/`gsi1sk`) lists a tenant's calls newest first; `due`
 * (`duePk`/`dueSk`) finds, for the sweeper, work that fell due (calls whose stream never started, deliveries never
 * attempted). The media regions' tables share `TABLE_SHAPE` but none of these indexes.
 */
export class DataTable extends Construct {
  public readonly table: Table;

  constructor(scope: Construct, id: string, props: DataTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      ...TABLE_SHAPE,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Projects everything: a page of calls is served from the index alone, without a read per call.
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_KEYS.byTime.indexName,
      partitionKey: { name: TABLE_KEYS.byTime.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.byTime.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    // Keys only: the sweeper acts on each due item through its table key anyway (an index read is only eventually
    // consistent), and the index stays sparse: only items with work falling due carry duePk.
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_KEYS.due.indexName,
      partitionKey: { name: TABLE_KEYS.due.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.due.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
  }
}
