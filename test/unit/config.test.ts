import { loadControlPlaneConfig } from '../../core/config';

const valid = { TABLE_NAME: 't', KMS_KEY_ID: 'k', PUBLIC_URL: 'https://api.example.com/', MEDIA_REGIONS: 'us002, in002,us002' };

describe('loadControlPlaneConfig', () => {
  it('reads a valid environment, normalising the URL and region list', () => {
    expect(loadControlPlaneConfig(valid)).toEqual({
      tableName: 't',
      kmsKeyId: 'k',
      publicUrl: 'https://api.example.com',
      mediaRegions: ['us002', 'in002'],
      logLevel: 'info',
      aws: { region: 'us-east-1', dynamodbEndpoint: undefined, kmsEndpoint: undefined },
    });
  });

  it.each([
    [{ TABLE_NAME: undefined }, 'Missing required environment variable TABLE_NAME'],
    [{ KMS_KEY_ID: ' ' }, 'Missing required environment variable KMS_KEY_ID'],
    [{ PUBLIC_URL: undefined }, 'Missing required environment variable PUBLIC_URL'],
    [{ PUBLIC_URL: 'api.example.com' }, 'PUBLIC_URL must be an absolute URL'],
    [{ PUBLIC_URL: 'ftp://api.example.com' }, 'PUBLIC_URL must use http: or https:'],
    [{ PUBLIC_URL: 'https://a.example.com/?x=1' }, 'PUBLIC_URL must not have a query'],
    [{ MEDIA_REGIONS: ',' }, 'MEDIA_REGIONS must name at least one region'],
    [{ MEDIA_REGIONS: 'us002,US 1' }, 'MEDIA_REGIONS has an invalid region id "US 1"'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be debug, info, warn or error'],
    [{ DYNAMODB_ENDPOINT: 'localhost:8000' }, 'DYNAMODB_ENDPOINT must use http: or https:'],
    [{ KMS_ENDPOINT: 'not a url' }, 'KMS_ENDPOINT must be an absolute URL'],
  ])('refuses %j: %s', (override, message) => {
    expect(() => loadControlPlaneConfig({ ...valid, ...override })).toThrow(message);
  });
});
