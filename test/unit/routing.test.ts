import type { RoutingRule } from '../../core/routing/model';
import { byPriority, roomFor, ruleMatches } from '../../core/routing/model';
import { escapeXml, streamXml } from '../../core/plivo/xml';
import { XMLParser } from 'fast-xml-parser';

const call = { callUuid: 'uuid-1', from: '919812345678', to: '+14155550199' };

describe('rule matching', () => {
  it.each<[RoutingRule['match'], boolean]>([
    [{}, true],
    [{ phoneNumbers: ['+14155550199'] }, true],
    [{ phoneNumbers: ['+14155550100', '+14155550199'] }, true],
    [{ phoneNumbers: ['+14155550100'] }, false],
    [{ callerPatterns: ['+91*'] }, true],
    [{ callerPatterns: ['+9198*678'] }, true],
    [{ callerPatterns: ['+1*'] }, false],
    [{ callerPatterns: ['*'] }, true],
    [{ callerPatterns: ['+919812345678'] }, true],
    [{ callerPatterns: ['+91981234567'] }, false],
    [{ phoneNumbers: ['+14155550199'], callerPatterns: ['+1*'] }, false],
    [{ phoneNumbers: ['+14155550199'], callerPatterns: ['+44*', '+91*'] }, true],
  ])('%j matches: %s', (match, expected) => {
    expect(ruleMatches({ match }, call)).toBe(expected);
  });

  it('orders by priority, then age', () => {
    const rule = (id: string, priority: number, createdAt: string) => ({ id, priority, createdAt }) as RoutingRule;
    const sorted = [rule('c', 5, '2026-01-03'), rule('a', 1, '2026-01-02'), rule('b', 5, '2026-01-01')].sort(byPriority);
    expect(sorted.map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('names dynamic rooms after the call, the caller or the callee', () => {
    expect(roomFor({ room: { type: 'static', id: 'fixed' } }, call)).toBe('fixed');
    expect(roomFor({ room: { type: 'dynamic', prefix: 'call' } }, call)).toMatch(/^call-[0-9a-f]{12}$/);
    expect(roomFor({ room: { type: 'dynamic', prefix: 'participantNumber' } }, call)).toMatch(/^919812345678-[0-9a-f]{12}$/);
    expect(roomFor({ room: { type: 'dynamic', prefix: 'sipNumber' } }, call)).toMatch(/^14155550199-[0-9a-f]{12}$/);
    const random = [1, 2].map(() => roomFor({ room: { type: 'dynamic', prefix: 'random' } }, call));
    expect(random[0]).not.toBe(random[1]);
  });
});

describe('Plivo XML', () => {
  it('escapes the stream URL and parses back to it', () => {
    const url = 'wss://host/plivo?ref=a&b=<c>"\'';
    const xml = streamXml(url);
    expect(xml).toContain(escapeXml(url));
    expect(xml).not.toContain('&b=');
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(xml) as { Response: { Stream: { '#text': string } } };
    expect(parsed.Response.Stream['#text']).toBe(url);
  });
});
