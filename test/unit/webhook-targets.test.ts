import { addressProblem, isPublicAddress, urlProblem } from '../../core/webhooks/targets';

describe('webhook targets', () => {
  it.each(['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:10.0.0.1', '::ffff:8.8.8.8', 'not-an-ip'])(
    '%s is not public',
    (address) => expect(isPublicAddress(address)).toBe(false),
  );

  it.each(['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111'])('%s is public', (address) => expect(isPublicAddress(address)).toBe(true));

  it('wants https in AWS, and allows http to localhost only in local mode', () => {
    expect(urlProblem('https://hooks.example.com/x', false)).toBeNull();
    expect(urlProblem('http://hooks.example.com/x', false)).toBe('must be https');
    expect(urlProblem('http://localhost:8080/x', false)).toBe('must be https');
    expect(urlProblem('http://localhost:8080/x', true)).toBeNull();
    expect(urlProblem('http://127.0.0.1:8080/x', true)).toBeNull();
    expect(urlProblem('http://10.0.0.1/x', true)).toMatch(/https/);
    expect(urlProblem('https://a:b@hooks.example.com/', false)).toMatch(/credentials/);
    expect(urlProblem('https://hooks.example.com/#frag', false)).toMatch(/fragment/);
  });

  it('refuses hosts that are or resolve to private, loopback or link-local addresses', async () => {
    expect(await addressProblem('https://127.0.0.1/x')).toMatch(/private, loopback or link-local/);
    expect(await addressProblem('https://169.254.169.254/latest/meta-data')).toMatch(/private, loopback or link-local/);
    expect(await addressProblem('https://[::1]/x')).toMatch(/private, loopback or link-local/);
    // A name is refused by what it resolves to, and the address is not told.
    const localhost = await addressProblem('https://localhost/x');
    expect(localhost).toMatch(/localhost is or resolves to/);
    expect(localhost).not.toMatch(/127\.0\.0\.1/);
    expect(await addressProblem('https://no-such-host.invalid/x')).toMatch(/does not resolve/);
    expect(await addressProblem('https://93.184.216.34/x')).toBeNull();
  });
});
