import { Token } from 'aws-cdk-lib';
import { parseMediaRegions } from '../../core/config';
import {
  ingestUrlOf,
  mediaRoutingEnvironment,
  validateMediaRouting,
  type MediaRegionTarget,
  type MediaRouting,
} from '../../lib/media-routing';

const US: MediaRegionTarget = {
  id: 'us002',
  awsRegion: 'us-east-1',
  claimsTableName: 'plivo-connector-us002-media',
  recordingsBucketName: 'plivo-connector-recordings-us002',
  domainName: 'media-us.example.com',
};
const IN: MediaRegionTarget = { id: 'in002', awsRegion: 'ap-south-1', claimsTableName: 'plivo-connector-in002-media', recordingsBucketName: 'plivo-connector-recordings-in002' };
const ROUTING: MediaRouting = { mediaRegions: [US, IN], homeMediaRegionId: 'us002', countryRegions: { IN: 'in002' } };

describe('ingestUrlOf', () => {
  test('is wss:// on the domainName', () => {
    expect(ingestUrlOf(US)).toBe('wss://media-us.example.com');
  });

  test('is a never-resolving .invalid placeholder without one', () => {
    expect(ingestUrlOf(IN)).toBe('wss://ingest-in002.invalid');
  });
});

describe('mediaRoutingEnvironment', () => {
  test("MEDIA_REGIONS names each region's ingest, table and AWS region, in order", () => {
    const env = mediaRoutingEnvironment(ROUTING);
    expect(JSON.parse(env.MEDIA_REGIONS!)).toEqual({
      us002: { ingestUrl: 'wss://media-us.example.com', claimsTable: 'plivo-connector-us002-media', recordingsBucket: 'plivo-connector-recordings-us002', awsRegion: 'us-east-1' },
      in002: { ingestUrl: 'wss://ingest-in002.invalid', claimsTable: 'plivo-connector-in002-media', recordingsBucket: 'plivo-connector-recordings-in002', awsRegion: 'ap-south-1' },
    });
  });

  test('is read back by core/config.ts as the same regions', () => {
    expect(parseMediaRegions(mediaRoutingEnvironment(ROUTING).MEDIA_REGIONS!)).toEqual([
      { id: 'us002', ingestUrl: 'wss://media-us.example.com', claimsTable: 'plivo-connector-us002-media', recordingsBucket: 'plivo-connector-recordings-us002', awsRegion: 'us-east-1' },
      { id: 'in002', ingestUrl: 'wss://ingest-in002.invalid', claimsTable: 'plivo-connector-in002-media', recordingsBucket: 'plivo-connector-recordings-in002', awsRegion: 'ap-south-1' },
    ]);
  });

  test('sets HOME_MEDIA_REGION and COUNTRY_REGIONS as country=region pairs', () => {
    const env = mediaRoutingEnvironment({ ...ROUTING, countryRegions: { IN: 'in002', LK: 'in002' } });
    expect(env.HOME_MEDIA_REGION).toBe('us002');
    expect(env.COUNTRY_REGIONS).toBe('IN=in002,LK=in002');
  });

  test('leaves COUNTRY_REGIONS out when no country is pinned', () => {
    expect(Object.keys(mediaRoutingEnvironment({ ...ROUTING, countryRegions: {} })).sort()).toEqual([
      'HOME_MEDIA_REGION',
      'MEDIA_REGIONS',
    ]);
    expect(mediaRoutingEnvironment({ mediaRegions: [US], homeMediaRegionId: 'us002' })).not.toHaveProperty(
      'COUNTRY_REGIONS',
    );
  });
});

describe('validateMediaRouting', () => {
  const check = (routing: Partial<MediaRouting>) => () => validateMediaRouting('Owner', { ...ROUTING, ...routing });

  test('accepts a consistent routing', () => {
    expect(check({})).not.toThrow();
  });

  test('rejects no regions', () => {
    expect(check({ mediaRegions: [] })).toThrow(/^Owner: mediaRegions must name at least one media region/);
  });

  test('rejects a home region that is not a media region', () => {
    expect(check({ homeMediaRegionId: 'eu001' })).toThrow(/homeMediaRegionId "eu001" is none of the mediaRegions/);
  });

  test('rejects a country mapped to an unknown region', () => {
    expect(check({ countryRegions: { IN: 'in001' } })).toThrow(/countryRegions maps IN to "in001"/);
  });

  test('rejects a claims table name that is a token', () => {
    const mediaRegions = [{ ...US, claimsTableName: Token.asString({ Ref: 'Elsewhere' }) }];
    expect(check({ mediaRegions })).toThrow(/claimsTableName of us002 must be a plain name/);
  });
});
