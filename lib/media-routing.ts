import { Token } from 'aws-cdk-lib';

/** What any stack needs to know of a media region; plain strings, so nothing refers across regions. */
export interface MediaRegionTarget {
  /** Our id of the region, e.g. `us002`. */
  readonly id: string;
  /** Its AWS region, e.g. `us-east-1`. */
  readonly awsRegion: string;
  /** Physical name of the region's table, where the answer handler writes call claims. */
  readonly claimsTableName: string;
  /** Physical name of the region's recordings bucket, written by its media servers (core/recordings). */
  readonly recordingsBucketName: string;
  /** Public DNS name of the region's ingest. @default - none yet: a placeholder URL (see `ingestUrlOf`) */
  readonly domainName?: string;
}

/** Where calls may go: every media region, the default one, and callers' countries pinned to one. */
export interface MediaRouting {
  /** The media regions calls may be streamed to. */
  readonly mediaRegions: readonly MediaRegionTarget[];
  /** Id of the region for calls neither their connector nor their caller's country places. */
  readonly homeMediaRegionId: string;
  /** ISO 3166 alpha-2 country of the caller -> media region id. @default {} */
  readonly countryRegions?: Readonly<Record<string, string>>;
  /** Plivo's Voice API, which call control calls from the functions and the media services. @default https://api.plivo.com (left unset) */
  readonly plivoApiUrl?: string;
  /** Days the regions' buckets keep a recording, and its record the control plane's table. @default 90 (left unset) */
  readonly recordingRetentionDays?: number;
}

/** The environment variables `mediaRoutingEnvironment` sets. */
export type MediaRoutingVariable = 'MEDIA_REGIONS' | 'HOME_MEDIA_REGION' | 'COUNTRY_REGIONS' | 'PLIVO_API_URL' | 'RECORDING_RETENTION_DAYS';

/**
 * The public base URL Plivo streams a region's calls to: `wss://<domainName>`. Without a domainName no public name is
 * known (the load balancer's own DNS name is a token of another region's stack), so it is a placeholder under
 * `.invalid` (RFC 2606), which never resolves: Plivo fails to stream rather than reaching someone else's host.
 */
export function ingestUrlOf(region: MediaRegionTarget): string {
  return `wss://${region.domainName ?? `ingest-${region.id}.invalid`}`;
}

/**
 * The origins the web console is served from: each region's public name (`https://<domainName>`); a region without one
 * has no https origin to serve it from. The API allows these, and only these, cross-origin (CORS).
 */
export function consoleOrigins(regions: readonly MediaRegionTarget[]): string[] {
  return regions.flatMap((region) => (region.domainName === undefined ? [] : [`https://${region.domainName}`]));
}

/**
 * `MEDIA_REGIONS`, `HOME_MEDIA_REGION`, `COUNTRY_REGIONS`, `PLIVO_API_URL` and `RECORDING_RETENTION_DAYS` as core/config.ts parses them. The
 * control plane's functions and every region's media service get exactly these, from this one function, so an answer
 * handler and an ingest never disagree on a region's table or URL, nor on where Plivo is. `COUNTRY_REGIONS` is left
 * out when no country is pinned, `PLIVO_API_URL` when it is Plivo's own, `RECORDING_RETENTION_DAYS` when it is the default.
 */
export function mediaRoutingEnvironment(routing: MediaRouting): Partial<Record<MediaRoutingVariable, string>> {
  const environment: Partial<Record<MediaRoutingVariable, string>> = {
    MEDIA_REGIONS: JSON.stringify(
      Object.fromEntries(
        routing.mediaRegions.map((region) => [
          region.id,
          { ingestUrl: ingestUrlOf(region), claimsTable: region.claimsTableName, recordingsBucket: region.recordingsBucketName, awsRegion: region.awsRegion },
        ]),
      ),
    ),
    HOME_MEDIA_REGION: routing.homeMediaRegionId,
  };
  const countryRegions = Object.entries(routing.countryRegions ?? {});
  if (countryRegions.length > 0) {
    environment.COUNTRY_REGIONS = countryRegions.map(([country, region]) => `${country}=${region}`).join(',');
  }
  if (routing.plivoApiUrl !== undefined) environment.PLIVO_API_URL = routing.plivoApiUrl;
  if (routing.recordingRetentionDays !== undefined) environment.RECORDING_RETENTION_DAYS = String(routing.recordingRetentionDays);
  return environment;
}

/** Throws, naming `owner`, when `routing` is inconsistent; every stack that takes a `MediaRouting` checks it. */
export function validateMediaRouting(owner: string, routing: MediaRouting): void {
  const regionIds = routing.mediaRegions.map((region) => region.id);
  if (regionIds.length === 0) {
    throw new Error(`${owner}: mediaRegions must name at least one media region.`);
  }
  if (!regionIds.includes(routing.homeMediaRegionId)) {
    throw new Error(
      `${owner}: homeMediaRegionId "${routing.homeMediaRegionId}" is none of the mediaRegions ` +
        `(${regionIds.join(', ')}).`,
    );
  }
  for (const region of routing.mediaRegions) {
    if (Token.isUnresolved(region.claimsTableName)) {
      throw new Error(
        `${owner}: claimsTableName of ${region.id} must be a plain name (RegionTable.tableName), ` +
          'not a token: a reference into another region cannot resolve.',
      );
    }
  }
  for (const [country, regionId] of Object.entries(routing.countryRegions ?? {})) {
    if (!regionIds.includes(regionId)) {
      throw new Error(`${owner}: countryRegions maps ${country} to "${regionId}", none of the mediaRegions.`);
    }
  }
}
