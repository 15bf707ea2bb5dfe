import { RemovalPolicy } from 'aws-cdk-lib';
import { Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_SHAPE } from './data-table';

export interface RegionTableProps {
  /** The media region this table serves, e.g. `us002`; it names the table. */
  readonly regionId: string;
}

const REGION_ID = /^[a-z]{2}\d{3}$/;

/** Throws, naming `owner`, unless `regionId` is a media region id such as `us002`: it goes into physical names. */
export function checkRegionId(owner: string, regionId: string): void {
  if (!REGION_ID.test(regionId)) {
    throw new Error(`${owner}: regionId must be two lowercase letters and three digits, like "us002"; got ${JSON.stringify(regionId)}.`);
  }
}

/**
 * A media region's own table: call claims (written by the control plane's answer handler, taken by the region's
 * ingest) and room placement leases (written by the region's media tasks). Same `pk`/`sk`/`expiresAt` shape as the control table, on-demand,
 * with point-in-time recovery.
 *
 * Encrypted with the AWS managed key (aws/dynamodb), not a customer managed one: the answer handler writes here
 * from the home region, and a customer managed key would need a cross-region key policy and grants for that, while
 * a claim holds no secret beyond its short-lived ref, stored only as a SHA-256 hash. Key use still shows in CloudTrail.
 *
 * Destroyed with its stack: everything in it lives for minutes (claims expire 90 s after the answer), and a retained
 * table would keep its fixed name taken, so re-creating the stack would fail on "table already exists".
 */
export class RegionTable extends Construct {
  /** `plivo-connector-<regionId>-media`: fixed, so other regions' stacks name it without cross-region references. */
  public static tableNameFor(regionId: string): string {
    return `plivo-connector-${regionId}-media`;
  }

  public readonly table: Table;
  /** The physical name as a plain string (never a token): safe to use in another region's stack. */
  public readonly tableName: string;

  constructor(scope: Construct, id: string, props: RegionTableProps) {
    super(scope, id);
    checkRegionId(`RegionTable ${id}`, props.regionId);
    this.tableName = RegionTable.tableNameFor(props.regionId);
    this.table = new Table(this, 'Table', {
      ...TABLE_SHAPE,
      tableName: this.tableName,
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
