// deploy/crds/ is generated from policies/schema (scripts/gen-crds.ts):
// this fails when the two drift apart.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { crdFile, generateCrd, KINDS } from '../../scripts/gen-crds.js';
import { REPO } from '../lib/agent.js';

for (const k of KINDS) {
  t.test(`${crdFile(k)} matches the schema (run node dist/scripts/gen-crds.js after changing it)`, async (t) => {
    const text = readFileSync(join(REPO, crdFile(k)), 'utf8');
    t.equal(text, generateCrd(k));
    const crd = parse(text);
    t.equal(crd.spec.scope, k.scope);
    const json = JSON.stringify(crd);
    for (const word of ['$ref', '"const"', '"if"', '"title"', '"additionalProperties":false']) t.notOk(json.includes(word), `no ${word}: a CRD schema is structural`);
  });
}
