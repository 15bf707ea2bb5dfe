import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NODE_TSX, ROOT } from '../support/local-process';

// The typed client's types follow docs/openapi.json: after a change of the API, `npm run openapi` (which runs
// `npm run client` after it) brings both up to date.
it('client/src/schema.ts is what `npm run client` makes of the committed docs/openapi.json', async () => {
  const { stdout: fresh } = await promisify(execFile)(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/client-schema.ts', '--stdout'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  expect(fresh).toContain('"/v2/connectors"');
  if (readFileSync(join(ROOT, 'client', 'src', 'schema.ts'), 'utf8') !== fresh) {
    throw new Error('client/src/schema.ts is stale against docs/openapi.json: run `npm run client` and commit it');
  }
});
