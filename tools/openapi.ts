import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiDocument } from '../lambdas/api/openapi';

/** `npm run openapi`: writes docs/openapi.json from the API's schemas (test/api/openapi.test.ts fails while it is stale). */
export const OPENAPI_PATH = join(__dirname, '..', 'docs', 'openapi.json');
export const openApiText = (): string => `${JSON.stringify(openApiDocument(), null, 2)}\n`;

if (require.main === module) {
  writeFileSync(OPENAPI_PATH, openApiText());
  process.stderr.write(`wrote ${OPENAPI_PATH}\n`);
}
