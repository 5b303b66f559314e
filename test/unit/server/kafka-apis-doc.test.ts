import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { allHandlers } from '../../../src/server/kafka/handlers/index.js';

/** From the compiled test (dist/test/unit/server/) back to the repository root. */
const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));

test('docs/kafka-apis.md lists exactly the registered handlers, with their versions', () => {
  const document = readFileSync(`${repositoryRoot}docs/kafka-apis.md`, 'utf8');
  const start = document.indexOf('<!-- table checked by');
  const end = document.indexOf('<!-- end of table -->');
  assert.ok(start >= 0 && end > start, 'the table markers are in place');
  const documented = document
    .slice(start, end)
    .split('\n')
    .map((line) => /^\| (\d+) \| (\w+) \| (\d+)–(\d+) \|/.exec(line))
    .filter((match) => match !== null)
    .map((match) => `${match[1]} ${match[2]} ${match[3]}-${match[4]}`);
  const registered = [...allHandlers].sort((left, right) => left.apiKey - right.apiKey).map((handler) => `${handler.apiKey} ${handler.name} ${handler.minVersion}-${handler.maxVersion}`);
  assert.deepEqual(documented, registered);
});
