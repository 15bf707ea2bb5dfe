import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_KIT_ERRORS } from '../../agent-kit/src';
import { parseServerMessage } from '../../agent-kit/src/messages';

const doc = (path: string) => readFileSync(join(__dirname, '..', '..', path), 'utf8');

/** The first column's `code` cells of the body of the table after `heading` (its header row left out). */
function firstColumn(text: string, heading: string): string[] {
  const table = text.slice(text.indexOf(heading)).split('\n\n').find((block) => block.startsWith('|')) ?? '';
  return [...table.split('\n').slice(2).join('\n').matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string);
}

it("docs/agents.md lists exactly the kit's error codes, each with the table's words", () => {
  const text = doc('docs/agents.md');
  expect(firstColumn(text, '**Errors never leave a listener.**')).toEqual(Object.keys(AGENT_KIT_ERRORS));
  for (const [code, when] of Object.entries(AGENT_KIT_ERRORS)) expect(text).toContain(`| \`${code}\` | ${when} |`);
});

it('the kit knows every server message room-protocol.md lists, and only those', () => {
  const types = firstColumn(doc('docs/room-protocol.md'), '## Events: text frames from the server');
  expect(types.length).toBeGreaterThan(5);
  // Known types fail on their missing fields (none has none), never as unknown.
  const failures = types.map((type) => {
    try {
      return parseServerMessage(JSON.stringify({ type })).type;
    } catch (err) {
      return (err as Error).message;
    }
  });
  expect(failures.filter((message) => message.includes('unknown'))).toEqual([]);
  expect(() => parseServerMessage(JSON.stringify({ type: 'recording-started' }))).toThrow('an unknown message type "recording-started"');
});
