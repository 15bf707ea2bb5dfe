import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RegionTable } from './constructs/region-table';

export interface MediaRegionStackProps extends StackProps {
  /** Our id of the media region, e.g. `us002`; `env.region` is its AWS region. */
  readonly regionId: string;
}

/** The stack name of a media region, e.g. `PlivoConnector-Media-us002`. */
export function mediaRegionStackName(regionId: string): string {
  return `PlivoConnector-Media-${regionId}`;
}

/** One media region, in its own AWS region: for now its table of call claims; the media service joins it later. */
export class MediaRegionStack extends Stack {
  public readonly regionTable: RegionTable;

  constructor(scope: Construct, id: string, props: MediaRegionStackProps) {
    super(scope, id, props);
    this.regionTable = new RegionTable(this, 'RegionTable', { regionId: props.regionId });
    new CfnOutput(this, 'TableName', { value: this.regionTable.tableName });
  }
}
