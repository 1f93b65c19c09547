// The error registry and docs/errors.md list the same codes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../kernel/errors.js';
import { REPO } from '../lib/agent.js';

t.test('every registered code is documented, and every documented code exists', async (t) => {
  const doc = readFileSync(join(REPO, 'docs/errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `(VIGIL_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.same([...documented].sort(), Object.keys(ERROR_CODES).sort());
});

t.test('every error Vigil throws carries a registered code: no plain Error in the product', async (t) => {
  const { readdirSync, statSync } = await import('node:fs');
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
  const plain = /new (Error|RangeError|TypeError|SyntaxError)\(/;
  const found = ['kernel', 'policies', 'agent', 'exporters'].flatMap((d) => files(join(REPO, d)))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l, i) => ({ f, i, l })))
    .filter(({ l }) => plain.test(l))
    .map(({ f, i }) => `${f.slice(REPO.length)}:${i + 1}`);
  t.same(found, [], 'throw a VigilError with a code from kernel/errors.ts');
});
