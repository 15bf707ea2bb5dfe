import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';

/**
 * `npm run client`: writes client/src/schema.ts, the typed client's types, from the committed docs/openapi.json
 * (`npm run openapi` runs it after writing that). `--stdout` prints the text instead: test/client/schema.test.ts
 * compares it with the file (a process of its own: openapi-typescript loads ES modules jest cannot require).
 */
const CLIENT_SCHEMA_PATH = join(__dirname, '..', 'client', 'src', 'schema.ts');

async function clientSchemaText(): Promise<string> {
  const ast = await openapiTS(readFileSync(join(__dirname, '..', 'docs', 'openapi.json')), { silent: true });
  return `${COMMENT_HEADER.replace('openapi-typescript.', 'openapi-typescript from docs/openapi.json (`npm run client`).')}${astToString(ast)}`;
}

if (require.main === module) {
  void clientSchemaText().then((text) => {
    if (process.argv.includes('--stdout')) {
      process.stdout.write(text);
    } else {
      writeFileSync(CLIENT_SCHEMA_PATH, text);
      process.stderr.write(`wrote ${CLIENT_SCHEMA_PATH}\n`);
    }
  });
}
