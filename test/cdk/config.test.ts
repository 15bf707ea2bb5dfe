import { App } from 'aws-cdk-lib';
import { readDeploymentConfig } from '../../lib/config';
import { CDK_JSON_CONTEXT } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const REGIONS = { us002: { awsRegion: 'us-east-1' }, in002: { awsRegion: 'ap-south-1' } };

function read(context: Record<string, unknown>): ReturnType<typeof readDeploymentConfig> {
  return readDeploymentConfig(new App({ context }).node);
}

describe('valid context', () => {
  test('the context in cdk.json reads as us002 (home, us-east-1) and in002 (ap-south-1)', () => {
    expect(read(CDK_JSON_CONTEXT)).toEqual({
      mediaRegions: [
        { id: 'us002', awsRegion: 'us-east-1' },
        { id: 'in002', awsRegion: 'ap-south-1' },
      ],
      homeMediaRegion: { id: 'us002', awsRegion: 'us-east-1' },
      countryRegions: { IN: 'in002' },
      mediaScaling: {},
      plivoSourceRanges: [],
      plivoApiUrl: 'https://api.plivo.com',
      limits: {},
      apiEdge: { rateLimits: { hooks: 3000, api: 3000 } },
      recordingRetentionDays: 90,
      recordingSegmentSeconds: 20,
    });
  });

  test('reads recordingRetentionDays as a number, or a string of digits as -c gives it; refuses anything else', () => {
    const base = { mediaRegions: REGIONS, homeMediaRegion: 'us002' };
    expect(read({ ...base, recordingRetentionDays: 7 }).recordingRetentionDays).toBe(7);
    expect(read({ ...base, recordingRetentionDays: '3650' }).recordingRetentionDays).toBe(3650);
    for (const days of [0, 3651, 1.5, '30 days', '', true, -1]) {
      expect(() => read({ ...base, recordingRetentionDays: days })).toThrow(
        `Context "recordingRetentionDays" must be a whole number of days from 1 to 3650, after which recordings are deleted; got ${JSON.stringify(days)}.`,
      );
    }
  });

  test('reads recordingSegmentSeconds as recordingRetentionDays is read, from 1 to 25', () => {
    const base = { mediaRegions: REGIONS, homeMediaRegion: 'us002' };
    expect(read({ ...base, recordingSegmentSeconds: 1 }).recordingSegmentSeconds).toBe(1);
    expect(read({ ...base, recordingSegmentSeconds: '25' }).recordingSegmentSeconds).toBe(25);
    for (const seconds of [0, 26, 2.5, '20s', true]) {
      expect(() => read({ ...base, recordingSegmentSeconds: seconds })).toThrow(
        `Context "recordingSegmentSeconds" must be a whole number of seconds from 1 to 25, of audio in each recording segment, what a dead task loses at most; got ${JSON.stringify(seconds)}.`,
      );
    }
  });

  test("reads the console's API URL, else the custom API domain's; refuses one with a path or not https", () => {
    const base = { mediaRegions: REGIONS, homeMediaRegion: 'us002' };
    expect(read(base).consoleApiUrl).toBeUndefined();
    expect(read({ ...base, apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN }).consoleApiUrl).toBe('https://api.example.com');
    expect(read({ ...base, consoleApiUrl: 'https://d111111abcdef8.cloudfront.net/', apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN }).consoleApiUrl).toBe('https://d111111abcdef8.cloudfront.net');
    for (const url of ['http://api.example.com', 'https://api.example.com/v2', 'api.example.com']) {
      expect(() => read({ ...base, consoleApiUrl: url })).toThrow(`Context "consoleApiUrl" must be an https URL without a path`);
    }
  });

  test('reads apiEdge (true, false, or from -c as a string) and edgeRateLimits', () => {
    const base = { mediaRegions: REGIONS, homeMediaRegion: 'us002' };
    expect(read({ ...base, apiEdge: false }).apiEdge).toBeNull();
    expect(read({ ...base, apiEdge: 'false' }).apiEdge).toBeNull();
    expect(read({ ...base, apiEdge: 'true', edgeRateLimits: '{"hooks": 600}' }).apiEdge).toEqual({ rateLimits: { hooks: 600, api: 3000 } });
    expect(read({ ...base, edgeRateLimits: { hooks: 10, api: 2_000_000_000 } }).apiEdge).toEqual({ rateLimits: { hooks: 10, api: 2_000_000_000 } });
  });

  test("with the edge, the API's certificate is CloudFront's, from us-east-1 whatever the home region; without it, the home region's", () => {
    const domain = { apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN };
    expect(read({ mediaRegions: REGIONS, homeMediaRegion: 'in002', ...domain }).apiDomain).toEqual({ domainName: 'api.example.com', certificateArn: CERTIFICATE_ARN });
    expect(() => read({ mediaRegions: REGIONS, homeMediaRegion: 'in002', apiEdge: false, ...domain })).toThrow(
      /"apiCertificateArn" is a certificate in us-east-1, but it serves ap-south-1/,
    );
    const southCertificate = { ...domain, apiCertificateArn: CERTIFICATE_ARN.replace('us-east-1', 'ap-south-1') };
    expect(() => read({ mediaRegions: REGIONS, homeMediaRegion: 'in002', ...southCertificate })).toThrow(
      /"apiCertificateArn" is a certificate in ap-south-1, but it serves us-east-1/,
    );
    expect(read({ mediaRegions: REGIONS, homeMediaRegion: 'in002', apiEdge: false, ...southCertificate }).apiDomain).toBeDefined();
  });

  test('reads limits, as an object or a JSON string', () => {
    const base = { mediaRegions: REGIONS, homeMediaRegion: 'us002' };
    expect(read({ ...base, limits: { tenantRateLimit: 0, maxRoomsPerTenant: 20, maxParticipantsPerRoom: 8 } }).limits).toEqual({
      tenantRateLimit: 0,
      maxRoomsPerTenant: 20,
      maxParticipantsPerRoom: 8,
    });
    expect(read({ ...base, limits: '{"maxParticipantsPerRoom": 250}' }).limits).toEqual({ maxParticipantsPerRoom: 250 });
  });

  test('reads mediaScaling, as an object or a JSON string', () => {
    const base = { mediaRegions: REGIONS, homeMediaRegion: 'us002' };
    expect(read({ ...base, mediaScaling: { callsPerTask: 150, maxTasks: 8 } }).mediaScaling).toEqual({
      callsPerTask: 150,
      maxTasks: 8,
    });
    expect(read({ ...base, mediaScaling: '{"maxTasks": 4}' }).mediaScaling).toEqual({ maxTasks: 4 });
  });

  test('countryRegions defaults to none', () => {
    expect(read({ mediaRegions: REGIONS, homeMediaRegion: 'us002' }).countryRegions).toEqual({});
  });

  test('accepts countryRegions given as a JSON string, as `-c key=value` passes it', () => {
    const config = read({
      mediaRegions: REGIONS,
      homeMediaRegion: 'us002',
      countryRegions: JSON.stringify({ IN: 'in002', LK: 'in002', US: 'us002' }),
    });
    expect(config.countryRegions).toEqual({ IN: 'in002', LK: 'in002', US: 'us002' });
  });

  test('accepts mediaRegions given as a JSON string, as `-c key=value` passes it', () => {
    const config = read({ mediaRegions: JSON.stringify(REGIONS), homeMediaRegion: 'in002' });
    expect(config.homeMediaRegion).toEqual({ id: 'in002', awsRegion: 'ap-south-1' });
  });

  test('reads the API custom domain when both keys are set', () => {
    const config = read({
      mediaRegions: REGIONS,
      homeMediaRegion: 'us002',
      apiDomainName: 'api.example.com',
      apiCertificateArn: CERTIFICATE_ARN,
    });
    expect(config.apiDomain).toEqual({ domainName: 'api.example.com', certificateArn: CERTIFICATE_ARN });
  });

  test("reads a media region's custom domain", () => {
    const config = read({
      mediaRegions: {
        us002: { awsRegion: 'us-east-1', domainName: 'media.example.com', certificateArn: CERTIFICATE_ARN },
      },
      homeMediaRegion: 'us002',
    });
    expect(config.mediaRegions).toEqual([
      { id: 'us002', awsRegion: 'us-east-1', domainName: 'media.example.com', certificateArn: CERTIFICATE_ARN },
    ]);
  });
});

describe('invalid context', () => {
  test.each([
    ['missing mediaRegions', { homeMediaRegion: 'us002' }, /"mediaRegions" must be a non-empty object/],
    ['empty mediaRegions', { mediaRegions: {}, homeMediaRegion: 'us002' }, /"mediaRegions" must be a non-empty object/],
    [
      'mediaRegions as a list',
      { mediaRegions: ['us002'], homeMediaRegion: 'us002' },
      /"mediaRegions" must be a non-empty object/,
    ],
    [
      'unparsable JSON',
      { mediaRegions: '{us002', homeMediaRegion: 'us002' },
      /"mediaRegions" looks like JSON but does not parse/,
    ],
    [
      'a malformed region id',
      { mediaRegions: { US2: { awsRegion: 'us-east-1' } } },
      /"mediaRegions.US2": region ids are two lowercase letters/,
    ],
    ['a region without awsRegion', { mediaRegions: { us002: {} } }, /"mediaRegions.us002" needs "awsRegion"/],
    [
      'a misspelt awsRegion',
      { mediaRegions: { us002: { awsRegion: 'us-east' } } },
      /"mediaRegions.us002" needs "awsRegion"/,
    ],
    [
      'missing homeMediaRegion',
      { mediaRegions: REGIONS },
      /"homeMediaRegion" must name one of the mediaRegions \(us002, in002\); got undefined/,
    ],
    [
      'an unknown homeMediaRegion',
      { mediaRegions: REGIONS, homeMediaRegion: 'eu001' },
      /"homeMediaRegion" must name one of the mediaRegions/,
    ],
  ])('rejects %s', (_name, context, message) => {
    expect(() => read(context)).toThrow(message);
  });

  test.each([
    [
      'a domain without certificate',
      { apiDomainName: 'api.example.com' },
      /"apiDomainName" and "apiCertificateArn" go together/,
    ],
    [
      'a certificate without domain',
      { apiCertificateArn: CERTIFICATE_ARN },
      /"apiDomainName" and "apiCertificateArn" go together/,
    ],
    [
      'a domain with a scheme',
      { apiDomainName: 'https://api.example.com', apiCertificateArn: CERTIFICATE_ARN },
      /"apiDomainName" must be a lowercase DNS name/,
    ],
    [
      'a non-ACM certificate ARN',
      { apiDomainName: 'api.example.com', apiCertificateArn: 'arn:aws:iam::123456789012:server-certificate/x' },
      /"apiCertificateArn" must be an ACM certificate ARN/,
    ],
    [
      'a certificate from another region than the home one',
      { apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN.replace('us-east-1', 'eu-west-1') },
      /"apiCertificateArn" is a certificate in eu-west-1, but it serves us-east-1/,
    ],
  ])('rejects %s for the API', (_name, domain, message) => {
    expect(() => read({ mediaRegions: REGIONS, homeMediaRegion: 'us002', ...domain })).toThrow(message);
  });

  test.each([
    ['a list', ['IN'], /"countryRegions" must be an object of country code -> media region id/],
    ['a lowercase country code', { in: 'in002' }, /"in" is not an ISO 3166 alpha-2 country code in upper case/],
    ['an alpha-3 country code', { IND: 'in002' }, /"IND" is not an ISO 3166 alpha-2 country code/],
    ['a numeric country code', { 356: 'in002' }, /"356" is not an ISO 3166 alpha-2 country code/],
    [
      'an unknown region',
      { IN: 'eu001' },
      /"countryRegions.IN" must name one of the mediaRegions \(us002, in002\); got "eu001"/,
    ],
    ['a region that is not a string', { IN: 2 }, /"countryRegions.IN" must name one of the mediaRegions/],
    ['an AWS region in place of a region id', { IN: 'ap-south-1' }, /"countryRegions.IN" must name one/],
  ])('rejects countryRegions with %s', (_name, countryRegions, message) => {
    expect(() => read({ mediaRegions: REGIONS, homeMediaRegion: 'us002', countryRegions })).toThrow(message);
  });

  test.each([
    ['a list', [200], /"mediaScaling" must be an object/],
    ['an unknown key', { minTasks: 3 }, /"mediaScaling" knows only callsPerTask and maxTasks; got minTasks/],
    ['callsPerTask 0', { callsPerTask: 0 }, /"mediaScaling.callsPerTask" must be a positive integer; got 0/],
    ['a fractional maxTasks', { maxTasks: 2.5 }, /"mediaScaling.maxTasks" must be a positive integer; got 2.5/],
    ['maxTasks as a string', { maxTasks: '20' }, /"mediaScaling.maxTasks" must be a positive integer; got "20"/],
  ])('rejects mediaScaling with %s', (_name, mediaScaling, message) => {
    expect(() => read({ mediaRegions: REGIONS, homeMediaRegion: 'us002', mediaScaling })).toThrow(message);
  });

  test.each([
    ['a list', [50], /"limits" must be an object/],
    ['an unknown key', { maxCalls: 3 }, /"limits" knows only tenantRateLimit, maxRoomsPerTenant, maxParticipantsPerRoom; got maxCalls/],
    ['a negative tenantRateLimit', { tenantRateLimit: -1 }, /"limits.tenantRateLimit" must be a whole number from 0 to 100000; got -1/],
    ['maxRoomsPerTenant 0', { maxRoomsPerTenant: 0 }, /"limits.maxRoomsPerTenant" must be a whole number from 1 to 1000000; got 0/],
    ['one seat per room', { maxParticipantsPerRoom: 1 }, /"limits.maxParticipantsPerRoom" must be a whole number from 2 to 10000; got 1/],
    ['a string', { maxParticipantsPerRoom: '50' }, /"limits.maxParticipantsPerRoom" must be a whole number from 2 to 10000; got "50"/],
  ])('rejects limits with %s', (_name, limits, message) => {
    expect(() => read({ mediaRegions: REGIONS, homeMediaRegion: 'us002', limits })).toThrow(message);
  });

  test.each([
    ['apiEdge as a word', { apiEdge: 'yes' }, /"apiEdge" must be true or false .*; got "yes"/],
    ['edgeRateLimits without the edge', { apiEdge: false, edgeRateLimits: { hooks: 100 } }, /"edgeRateLimits" needs the edge/],
    ['edgeRateLimits as a number', { edgeRateLimits: 100 }, /"edgeRateLimits" must be an object/],
    ['an unknown edgeRateLimits key', { edgeRateLimits: { rest: 100 } }, /"edgeRateLimits" knows only hooks, api; got rest/],
    ['a limit below WAF\'s 10', { edgeRateLimits: { hooks: 9 } }, /"edgeRateLimits.hooks" must be a whole number of requests per source per 60 s from 10 to 2000000000; got 9/],
    ['a fractional limit', { edgeRateLimits: { api: 100.5 } }, /"edgeRateLimits.api" must be a whole number .*; got 100.5/],
    ['a limit as a string', { edgeRateLimits: { api: '100' } }, /"edgeRateLimits.api" must be a whole number .*; got "100"/],
  ])('rejects the edge with %s', (_name, edge, message) => {
    expect(() => read({ mediaRegions: REGIONS, homeMediaRegion: 'us002', ...edge })).toThrow(message);
  });

  test('rejects countryRegions naming a region that the mediaRegions context no longer has', () => {
    expect(() =>
      read({
        mediaRegions: { us002: { awsRegion: 'us-east-1' } },
        homeMediaRegion: 'us002',
        countryRegions: { IN: 'in002' },
      }),
    ).toThrow(/"countryRegions.IN" must name one of the mediaRegions \(us002\)/);
  });

  test('rejects a media region domain without certificate', () => {
    expect(() =>
      read({
        mediaRegions: { us002: { awsRegion: 'us-east-1', domainName: 'media.example.com' } },
        homeMediaRegion: 'us002',
      }),
    ).toThrow(/"mediaRegions.us002.domainName" and "mediaRegions.us002.certificateArn" go together/);
  });

  test("rejects a media region certificate from another AWS region than the media region's", () => {
    expect(() =>
      read({
        mediaRegions: {
          in002: { awsRegion: 'ap-south-1', domainName: 'media.example.com', certificateArn: CERTIFICATE_ARN },
        },
        homeMediaRegion: 'in002',
      }),
    ).toThrow(/"mediaRegions.in002.certificateArn" is a certificate in us-east-1, but it serves ap-south-1/);
  });
});
