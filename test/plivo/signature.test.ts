import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { validateV3Signature } from 'plivo';
import { checkPlivoSignature, signV3, v3Base, type Params } from '../../core/plivo/signature';
import { v2SignatureHeaders } from '../support/plivo';

/** Our signer, proven against the official `plivo` package's validators over random requests. */
const asciiText = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_.~!*+/:@$'.split('')), minLength: 0, maxLength: 12 });
const key = fc.string({ unit: fc.constantFrom(...'abcdefXYZ_09-'.split('')), minLength: 1, maxLength: 8 });
const params = fc.dictionary(key, fc.array(asciiText, { minLength: 1, maxLength: 3 }), { maxKeys: 5 });
const host = fc.constantFrom('example.com', 'api.example.com:8443', '127.0.0.1:3000', 'answer.url');
const path = fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{1,10}$/), { maxLength: 4 }).map((parts) => '/' + parts.join('/'));
// One value per query key: under jest, Node's querystring builds arrays in another realm, which the
// plivo package's `instanceof Array` misreads; repeated query keys are checked in plain Node below.
const query = fc.dictionary(key, fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{0,8}$/), { minLength: 1, maxLength: 1 }), { maxKeys: 3 });
const nonce = fc.stringMatching(/^[A-Za-z0-9]{1,24}$/);
const token = fc.stringMatching(/^[A-Za-z0-9]{20,40}$/);

function url(scheme: string, h: string, p: string, q: Record<string, string[]>): string {
  const qs = Object.entries(q).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)).join('&');
  return `${scheme}://${h}${p}${qs ? `?${qs}` : ''}`;
}

const asMap = (record: Record<string, string[]>): Params => new Map(Object.entries(record));
/** The plivo package takes single values as strings and several as arrays. */
const asPlivo = (record: Record<string, string[]>) =>
  Object.fromEntries(Object.entries(record).map(([k, vs]) => [k, vs.length === 1 ? vs[0]! : vs]));

describe('Plivo V3 signatures', () => {
  it('match the official validator for random POST and GET requests', () => {
    fc.assert(
      fc.property(fc.constantFrom('POST', 'GET'), fc.constantFrom('https', 'http', 'wss'), host, path, query, params, nonce, token, (method, scheme, h, p, q, form, n, t) => {
        const u = url(scheme, h, p, q);
        const body = method === 'GET' ? {} : form;
        const signature = signV3(t, method, u, asMap(body), n);
        expect(validateV3Signature(method, u, n, t, signature, asPlivo(body))).toBe(true);
        expect(validateV3Signature(method, u, n, `${t}x`, signature, asPlivo(body))).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('matches the official validator for repeated query keys (in plain Node)', () => {
    const script = `
      const { signV3 } = require('./core/plivo/signature.ts');
      const { validateV3Signature } = require('plivo');
      const cases = [['POST', 'https://e.com/p?a=&a=&b=2&b=1', {}], ['POST', 'https://e.com/p?b=2&b=1', { x: ['2', '1'] }], ['GET', 'https://e.com/p?b=2&b=1', { b: '0' }]];
      const ok = cases.every(([m, u, p]) => validateV3Signature(m, u, 'n', 'tok', signV3('tok', m, u, new Map(Object.entries(p).map(([k, v]) => [k, [].concat(v)])), 'n'), p));
      process.stdout.write(String(ok));`;
    const out = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: join(__dirname, '..', '..'), encoding: 'utf8' });
    expect(out.stdout).toBe('true');
  });

  it('signs the worked example string of the protocol notes', () => {
    const base = v3Base(
      'POST',
      'https://example.com/abcd?foo=bar',
      asMap({ CallUuid: ['<uuid>'], Digits: ['1234'], From: ['+15551111111'], To: ['+15555555555'] }),
    );
    expect(`${base}.kjsdhfsd87sd7yisud2`).toBe(
      'https://example.com/abcd?foo=bar.CallUuid<uuid>Digits1234From+15551111111To+15555555555.kjsdhfsd87sd7yisud2',
    );
  });

  it('accepts any of several comma-separated signatures, the -Ma- header, and nothing forged', () => {
    fc.assert(
      fc.property(host, path, params, nonce, token, token, (h, p, form, n, t, other) => {
        fc.pre(t !== other);
        const u = url('https', h, p, {});
        const good = signV3(t, 'POST', u, asMap(form), n);
        const bad = signV3(other, 'POST', u, asMap(form), n);
        const check = (headers: Record<string, string>) =>
          checkPlivoSignature(t, { method: 'POST', url: u, params: asMap(form), headers: { 'x-plivo-signature-v3-nonce': n, ...headers } });
        expect(check({ 'x-plivo-signature-v3': good })).toBe('valid');
        expect(check({ 'x-plivo-signature-v3': `${bad},${good}` })).toBe('valid');
        expect(check({ 'x-plivo-signature-v3': bad, 'x-plivo-signature-ma-v3': good })).toBe('valid');
        expect(check({ 'x-plivo-signature-v3': bad })).toBe('invalid');
        expect(check({ 'x-plivo-signature-v3': `${bad},${bad}` })).toBe('invalid');
        expect(check({ 'x-plivo-signature-v3': good.slice(0, -2) })).toBe('invalid');
      }),
      { numRuns: 200 },
    );
  });

  it('fails when a parameter, the URL or the nonce changes', () => {
    const u = 'https://api.example.com/v2/hooks/plivo/whk_abc?roomId=r1';
    const form = asMap({ CallUUID: ['u1'], From: ['+14155550100'] });
    const sig = signV3('token-token-token', 'POST', u, form, 'n1');
    const check = (url: string, params: Params, n: string) =>
      checkPlivoSignature('token-token-token', { method: 'POST', url, params, headers: { 'x-plivo-signature-v3': sig, 'x-plivo-signature-v3-nonce': n } });
    expect(check(u, form, 'n1')).toBe('valid');
    expect(check(u.replace('r1', 'r2'), form, 'n1')).toBe('invalid');
    expect(check(u, asMap({ CallUUID: ['u1'], From: ['+14155550101'] }), 'n1')).toBe('invalid');
    expect(check(u, form, 'n2')).toBe('invalid');
  });
});

describe('URL forms', () => {
  it('accept a signature over the wss:, https: or http: form of the URL called, and no other host, path or query', () => {
    const called = 'wss://media.example.com/plivo?ref=abc';
    const check = (signedOver: string) => {
      const signature = signV3('tok', 'GET', signedOver, new Map(), 'n');
      return checkPlivoSignature('tok', { method: 'GET', url: called, params: new Map(), headers: { 'x-plivo-signature-v3': signature, 'x-plivo-signature-v3-nonce': 'n' } });
    };
    for (const form of ['wss:', 'https:', 'http:']) expect(check(called.replace('wss:', form))).toBe('valid');
    for (const other of ['https://other.example.com/plivo?ref=abc', 'https://media.example.com/x?ref=abc', 'https://media.example.com/plivo?ref=abd']) expect(check(other)).toBe('invalid');
  });
});

describe('Plivo V2 signatures', () => {
  it('are refused as v2-only, even genuine ones, since V2 signs neither the query nor the parameters', () => {
    fc.assert(
      fc.property(fc.constantFrom('https', 'http'), host, path, query, params, token, (scheme, h, p, q, form, t) => {
        const u = url(scheme, h, p, q);
        const headers = v2SignatureHeaders(t, u);
        expect(checkPlivoSignature(t, { method: 'POST', url: u, params: asMap(form), headers })).toBe('v2-only');
        expect(checkPlivoSignature(t, { method: 'POST', url: u, params: asMap(form), headers: { 'x-plivo-signature-v2-nonce': 'n' } })).toBe('v2-only');
      }),
      { numRuns: 100 },
    );
  });

  it('are ignored beside V3 headers, which alone decide', () => {
    const u = 'https://answer.url/x';
    const request = { method: 'POST', url: u, params: new Map() };
    const v2 = v2SignatureHeaders('tok', u);
    const v3 = { 'x-plivo-signature-v3': signV3('tok', 'POST', u, new Map(), 'n'), 'x-plivo-signature-v3-nonce': 'n' };
    expect(checkPlivoSignature('tok', { ...request, headers: { ...v2, ...v3 } })).toBe('valid');
    expect(checkPlivoSignature('tok', { ...request, headers: { ...v2, 'x-plivo-signature-v3': 'forged', 'x-plivo-signature-v3-nonce': 'n' } })).toBe('invalid');
    expect(checkPlivoSignature('tok', { ...request, headers: { ...v2, 'x-plivo-signature-v3': v3['x-plivo-signature-v3'] } })).toBe('v2-only');
    expect(checkPlivoSignature('tok', { ...request, headers: {} })).toBe('missing');
    expect(checkPlivoSignature('tok', { ...request, headers: { 'x-plivo-signature-v3': 'no-nonce' } })).toBe('missing');
  });
});
