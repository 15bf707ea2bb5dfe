import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from './aws';
import type { ControlPlaneConfig } from './config';

/** A media region's own table (claims, room placements, media servers) and a client in its AWS region. */
export interface RegionTable {
  readonly dynamo: DynamoDBClient;
  readonly tableName: string;
}

/**
 * Resolves a configured media region to its table, through a client for that region's AWS region
 * (`dynamo` when it is the control plane's own); one client per AWS region.
 */
export function regionTables(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws'>, dynamo: DynamoDBClient): (regionId: string) => RegionTable {
  const regional = new Map<string, DynamoDBClient>();
  return (regionId) => {
    const region = config.mediaRegions.find((r) => r.id === regionId);
    if (!region) throw new Error(`Media region ${regionId} is not configured`);
    const awsRegion = region.awsRegion ?? config.aws.region;
    let client = awsRegion === config.aws.region ? dynamo : regional.get(awsRegion);
    if (!client) regional.set(awsRegion, (client = dynamoClient({ ...config.aws, region: awsRegion })));
    return { dynamo: client, tableName: region.claimsTable };
  };
}

/** Each distinct media region table once (locally, every region shares one table). */
export function distinctRegionTables(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws'>, dynamo: DynamoDBClient): RegionTable[] {
  const tableOf = regionTables(config, dynamo);
  const tables = new Map<string, RegionTable>();
  for (const region of config.mediaRegions) {
    const key = `${region.awsRegion ?? config.aws.region}/${region.claimsTable}`;
    if (!tables.has(key)) tables.set(key, tableOf(region.id));
  }
  return [...tables.values()];
}
