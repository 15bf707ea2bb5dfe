import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLOSE, ROOM_CLOSES, STREAM_CLOSES } from '../../ingest-container/src/transport/close-codes';
import { REFUSALS } from '../../ingest-container/src/transport/refuse';
import { DISPATCH_FAILURES } from '../../core/agents/dispatch';

/** The media server's vocabularies (close codes, refusal codes, dispatch failures) and the docs that list them: one changes, both must. */
const doc = (path: string): string => readFileSync(join(__dirname, '..', '..', path), 'utf8');

/** The first cell of each row of the Markdown table that follows `heading` (a line it starts with), backticks removed. */
function firstColumn(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(heading));
  if (start < 0) throw new Error(`no "${heading}" in the doc`);
  const rows: string[] = [];
  let inTable = false;
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cell = line.split('|')[1]?.trim() ?? '';
    if (/^`[^`]+`$/.test(cell)) rows.push(cell.slice(1, -1));
  }
  return rows;
}

const codes = (names: readonly (keyof typeof CLOSE)[]): number[] => [...new Set(names.map((name) => CLOSE[name]))].sort();

it('room-protocol.md lists exactly the close codes a room participant may get', () => {
  expect(firstColumn(doc('docs/room-protocol.md'), '## Closing').map(Number).sort()).toEqual(codes(ROOM_CLOSES));
});

it('operations.md lists exactly the close codes a Plivo stream may get', () => {
  expect(firstColumn(doc('docs/operations.md'), '**Close codes of Plivo streams**').map(Number).sort()).toEqual(codes(STREAM_CLOSES));
});

it('every close code the docs name is one the server sends, and every one it sends is documented', () => {
  const named = new Set<number>();
  for (const path of ['docs/room-protocol.md', 'docs/operations.md']) {
    for (const [, code] of doc(path).matchAll(/`(10\d\d|4\d\d\d)`/g)) named.add(Number(code));
  }
  expect([...named].sort()).toEqual([...new Set(Object.values(CLOSE))].sort());
});

it('room-protocol.md lists exactly the refusal codes of upgrades, each with its status', () => {
  const text = doc('docs/room-protocol.md');
  const rows = text
    .split('\n')
    .filter((line) => /^\| `[a-z_]+` \| `\d{3}` \|/.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim().replace(/`/g, '')))
    .map(([, code, status]) => [code, Number(status)]);
  expect(Object.fromEntries(rows)).toEqual(REFUSALS);
  expect(firstColumn(text, 'Refused joins').sort()).toEqual(Object.keys(REFUSALS).sort());
});

it("room-protocol.md lists exactly the reasons a dispatched agent's job may fail", () => {
  expect(firstColumn(doc('docs/room-protocol.md'), '| `reason` | When |').sort()).toEqual(Object.keys(DISPATCH_FAILURES).sort());
});
