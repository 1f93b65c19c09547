// The error registry and docs/errors.md list the same codes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../agent/errors.js';
import { REPO } from '../lib/agent.js';

t.test('every registered code is documented, and every documented code exists', async (t) => {
  const doc = readFileSync(join(REPO, 'docs/errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `(VIGIL_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.same([...documented].sort(), Object.keys(ERROR_CODES).sort());
});
