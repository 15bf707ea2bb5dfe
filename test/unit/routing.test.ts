import { agentDial } from '../../core/agents/model';
import { maskNumber } from '../../core/calls/model';
import { escapeXml, streamXml } from '../../core/plivo/xml';
import { callerAllowed, holdsNumber, roomFor, ruleAttributes } from '../../core/routing/model';
import { XMLParser } from 'fast-xml-parser';

const call = { callUuid: 'uuid-1', from: '919812345678', to: '+14155550199' };

describe('rule matching', () => {
  it('takes a call to one of an inbound rule’s numbers, with or without +; never for an outbound rule', () => {
    expect(holdsNumber({ type: 'inbound', phoneNumbers: ['+14155550100', '+14155550199'] }, call.to)).toBe(true);
    expect(holdsNumber({ type: 'inbound', phoneNumbers: ['+14155550199'] }, '14155550199')).toBe(true);
    expect(holdsNumber({ type: 'inbound', phoneNumbers: ['+14155550100'] }, call.to)).toBe(false);
    expect(holdsNumber({ type: 'inbound', phoneNumbers: [] }, call.to)).toBe(false);
    expect(holdsNumber({ type: 'inbound', phoneNumbers: ['+14155550199'] }, 'anonymous')).toBe(false);
    expect(holdsNumber({ type: 'outbound', phoneNumbers: ['+14155550199'] }, call.to)).toBe(false);
  });

  it.each<[string[], boolean]>([
    [[], true],
    [['+91*'], true],
    [['+9198*678'], true],
    [['+1*'], false],
    [['*'], true],
    [['+919812345678'], true],
    [['+91981234567'], false],
    [['+44*', '+91*'], true],
  ])('allowedNumbers %j lets the caller in: %s', (allowedNumbers, expected) => {
    expect(callerAllowed({ allowedNumbers }, call.from)).toBe(expected);
  });

  it('names dynamic rooms after the call, the caller or the callee', () => {
    expect(roomFor({ type: 'static', id: 'fixed' }, call)).toBe('fixed');
    expect(roomFor({ type: 'dynamic', prefix: 'blank' }, call)).toMatch(/^[0-9a-f]{12}$/);
    expect(roomFor({ type: 'dynamic', prefix: 'participantNumber' }, call)).toMatch(/^919812345678-[0-9a-f]{12}$/);
    expect(roomFor({ type: 'dynamic', prefix: 'sipNumber' }, call)).toMatch(/^14155550199-[0-9a-f]{12}$/);
    const random = [1, 2].map(() => roomFor({ type: 'dynamic', prefix: 'random' }, call));
    expect(random[0]).not.toBe(random[1]);
  });
});

describe('header attributes', () => {
  const fields = new Map([
    ['X-PH-Account', ['A-17']],
    ['X-PH-Campaign', ['spring']],
    ['From', ['+14155550100']],
  ]);

  it('maps the named headers (any case) and, with includeHeaders, every custom one as sip.h.<name>', () => {
    expect(ruleAttributes({ includeHeaders: 'NONE', headersToAttributes: {} }, fields)).toEqual({});
    expect(ruleAttributes({ includeHeaders: 'NONE', headersToAttributes: { 'x-ph-account': 'account', 'X-PH-Missing': 'gone', From: 'from' } }, fields)).toEqual({ account: 'A-17' });
    expect(ruleAttributes({ includeHeaders: 'SIP_X_HEADERS', headersToAttributes: {} }, fields)).toEqual({ 'sip.h.x-ph-account': 'A-17', 'sip.h.x-ph-campaign': 'spring' });
    expect(ruleAttributes({ includeHeaders: 'ALL', headersToAttributes: {} }, fields)).toEqual(ruleAttributes({ includeHeaders: 'SIP_X_HEADERS', headersToAttributes: {} }, fields));
  });

  it('makes at most 32 attributes, values cut to 256 characters, names within 64 (longer header names passed over)', () => {
    const many = new Map([[`X-PH-${'n'.repeat(54)}`, ['too long']], ...Array.from({ length: 40 }, (_, i) => [`X-PH-H${i}`, ['v'.repeat(300)]] as const)]);
    const attributes = ruleAttributes({ includeHeaders: 'ALL', headersToAttributes: { 'X-PH-H39': 'last', 'X-PH-H0': 'first' } }, many);
    expect(Object.keys(attributes)).toHaveLength(32);
    expect(attributes.first).toBe('v'.repeat(256));
    expect(Object.keys(attributes).every((name) => name.length <= 64)).toBe(true);
    expect(Object.values(attributes).every((value) => value.length === 256)).toBe(true);
    expect(ruleAttributes({ includeHeaders: 'ALL', headersToAttributes: {} }, new Map([[`X-PH-${'n'.repeat(53)}`, ['ok']]]))).toEqual({ [`sip.h.x-ph-${'n'.repeat(53)}`]: 'ok' });
  });
});

describe('agents and masking', () => {
  it('overlays the rule’s agentMetadata on the agent’s own, and leaves metadata out when both are empty', () => {
    const agent = { url: 'wss://a.example.com', sampleRate: 16000 as const, metadata: { persona: 'support', lang: 'en' } };
    expect(agentDial(agent, { lang: 'hi', queue: 7 })).toEqual({ url: agent.url, sampleRate: 16000, metadata: { persona: 'support', lang: 'hi', queue: 7 } });
    expect(agentDial({ ...agent, metadata: {} }, {})).toEqual({ url: agent.url, sampleRate: 16000 });
  });

  it.each([
    ['+14155550100', '+*******0100'],
    ['14155550100', '*******0100'],
    ['+123', '+123'],
    ['', ''],
  ])('masks %s as %s', (number, masked) => {
    expect(maskNumber(number)).toBe(masked);
  });
});

describe('Plivo XML', () => {
  it('escapes the stream URL and the status callback URL, and parses back to them', () => {
    const url = 'wss://host/plivo?ref=a&b=<c>"\'';
    const status = 'https://host/v2/hooks/plivo/whk_x?callId=a&b="<c>';
    const xml = streamXml(url, status);
    expect(xml).toContain(escapeXml(url));
    expect(xml).not.toContain('&b=');
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as { Response: { Stream: Record<string, string> } };
    expect(parsed.Response.Stream['#text']).toBe(url);
    expect(parsed.Response.Stream).toMatchObject({ statusCallbackUrl: status, statusCallbackMethod: 'POST' });
  });

  it('adds noiseCancellation (and its level) only when the rule turns it on; the seed’s XML otherwise', () => {
    const status = 'https://h/v2/hooks/plivo/whk_x?callId=c';
    const seed = streamXml('wss://h/plivo?ref=r', status);
    const after = 'statusCallbackMethod="POST"';
    expect(streamXml('wss://h/plivo?ref=r', status, { noiseCancellation: false, noiseCancellationLevel: 80 })).toBe(seed);
    expect(streamXml('wss://h/plivo?ref=r', status, { noiseCancellation: true, noiseCancellationLevel: null })).toBe(seed.replace(after, `${after} noiseCancellation="true"`));
    expect(streamXml('wss://h/plivo?ref=r', status, { noiseCancellation: true, noiseCancellationLevel: 80 })).toBe(
      seed.replace(after, `${after} noiseCancellation="true" noiseCancellationLevel="80"`),
    );
  });

  it('adds an outbound rule’s headers as extraHeaders (k=v,k2=v2) only when it has some; the seed’s XML otherwise', () => {
    const status = 'https://h/v2/hooks/plivo/whk_x?callId=c';
    const seed = streamXml('wss://h/plivo?ref=r', status);
    const after = 'statusCallbackMethod="POST"';
    expect(streamXml('wss://h/plivo?ref=r', status, { headers: {} })).toBe(seed);
    expect(streamXml('wss://h/plivo?ref=r', status, { headers: { Account: 'A17', 'X-Campaign': 'spring' } })).toBe(
      seed.replace(after, `${after} extraHeaders="Account=A17,X-Campaign=spring"`),
    );
    expect(streamXml('wss://h/plivo?ref=r', status, { noiseCancellation: true, headers: { a: '1' } })).toBe(seed.replace(after, `${after} noiseCancellation="true" extraHeaders="a=1"`));
  });
});
