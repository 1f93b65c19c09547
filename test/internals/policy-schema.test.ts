// The TracingPolicy schema: the generated types follow it, it accepts the
// Tetragon-format examples under test/fixtures/policies/valid/ (which use
// every hook kind, selector kind and action), and it rejects unknown
// fields at every depth of spec.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { generatePolicyTypes, POLICY_TYPES_FILE } from '../../scripts/gen-policy-types.js';
import { lintFile } from '../../policies/validate/index.js';
import { checkSchema, POLICY_SCHEMA } from '../../policies/validate/schema.js';
import { formatPath } from '../../policies/validate/path.js';
import { REFUSED } from '../../policies/validate/refused.js';
import { formatPolicyError } from '../../policies/validate/errors.js';
import type { TracingPolicy } from '../../policies/types.generated.js';
import { REPO } from '../lib/agent.js';

const VALID = join(REPO, 'test/fixtures/policies/valid');
const files = readdirSync(VALID).filter((f) => f.endsWith('.yaml')).map((f) => join(VALID, f));
const policies = files.flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as TracingPolicy));
const defs = POLICY_SCHEMA.definitions as Record<string, { properties?: Record<string, unknown>; enum?: string[] }>;

t.test('types.generated.ts matches the schema (run node dist/scripts/gen-policy-types.js after changing it)', async (t) => {
  t.equal(readFileSync(join(REPO, POLICY_TYPES_FILE), 'utf8'), await generatePolicyTypes());
});

t.test('the valid examples pass the schema and the semantic checks', async (t) => {
  t.ok(files.length >= 5, `${files.length} example files`);
  for (const file of files) {
    const r = lintFile(file, { kernel: false });
    t.same(r.errors.map(formatPolicyError), [], `${file}: no errors or warnings`);
    t.equal(r.policies.length, r.documents, `${file}: every document is a policy`);
  }
});

t.test('the valid examples use every hook kind, selector kind and action', async (t) => {
  const specs = policies.map((p) => p.spec);
  for (const kind of ['kprobes', 'tracepoints', 'lsmhooks', 'lists', 'options', 'enforcers', 'podSelector', 'containerSelector', 'selectorsMacros'] as const) {
    t.ok(specs.some((s) => s[kind] !== undefined), `spec.${kind} is used`);
  }
  const hooks = specs.flatMap((s) => [...(s.kprobes ?? []), ...(s.tracepoints ?? []), ...(s.lsmhooks ?? [])]);
  const selectors = hooks.flatMap((h) => h.selectors ?? []);
  // Fields the schema refuses are tested in crd-fields.test.ts.
  for (const [field, s] of Object.entries(defs.KProbeSelector.properties!)) {
    if (!(s as Record<string, unknown>)[REFUSED]) t.ok(selectors.some((sel) => field in sel), `${field} is used`);
  }
  const actions = new Set(selectors.flatMap((s) => [...(s.matchActions ?? []), ...(s.matchReturnActions ?? [])]).map((a) => a.action));
  t.same(defs.ActionType.enum!.filter((a) => !actions.has(a as never)), [], 'every action is used');
});

t.test('unknown fields are rejected at every depth of spec, with the nearest known field', async (t) => {
  const base = policies.find((p) => p.metadata.name === 'connect')!;
  const cases: [path: (string | number)[], field: string, hint: string][] = [
    [['spec'], 'kprobe', ' (did you mean "kprobes"?)'],
    [['spec', 'kprobes', 0], 'syscal', ' (did you mean "syscall"?)'],
    [['spec', 'kprobes', 0, 'args', 0], 'lable', ' (did you mean "label"?)'],
    [['spec', 'kprobes', 0, 'selectors', 0], 'matchArg', ' (did you mean "matchArgs"?)'],
    [['spec', 'kprobes', 0, 'selectors', 0, 'matchArgs', 0], 'value', ' (did you mean "values"?)'],
    [['spec', 'kprobes', 0, 'selectors', 0, 'matchActions', 0], 'argsock', ' (did you mean "argSock"?)'],
    [['spec', 'kprobes', 2, 'returnArg'], 'bogus', ''],
    [['spec', 'kprobes', 0, 'selectors', 0, 'matchArgs', 0], 'bogus', ' (expected one of args, index, operator, values)'],
  ];
  for (const [path, field, hint] of cases) {
    const doc = structuredClone(base) as unknown as Record<string, unknown>;
    let node = doc as Record<string | number, unknown>;
    for (const seg of path) node = node[seg] as Record<string | number, unknown>;
    node[field] = true;
    const found = checkSchema(doc).map((f) => `${formatPath(f.path)}: ${f.message}`);
    t.same(found, [`${formatPath([...path, field])}: unknown field "${field}"${hint}`], formatPath(path));
  }
});

t.test('schema errors read as plain messages on field paths', async (t) => {
  const doc = structuredClone(policies.find((p) => p.metadata.name === 'lsm-file-open')!) as unknown as {
    kind: string; metadata: Record<string, unknown>; spec: { lsmhooks: Record<string, unknown>[] };
  };
  doc.kind = 'TracingPolicyNamespaced';
  delete doc.spec.lsmhooks[0].hook;
  doc.spec.lsmhooks[1].tags = Array.from({ length: 17 }, (_, i) => `t${i}`);
  (doc.spec.lsmhooks[1].args as Record<string, unknown>[])[0].type = 'linux_bprm';
  (doc.spec.lsmhooks[1].args as Record<string, unknown>[])[0].index = -1;
  t.same(checkSchema(doc).map((f) => `${formatPath(f.path)}: ${f.message}`).sort(), [
    'metadata: missing required field "namespace"',
    'spec.lsmhooks[0]: missing required field "hook"',
    'spec.lsmhooks[1].args[0].index: must be >= 0, got -1',
    'spec.lsmhooks[1].args[0].type: unknown type "linux_bprm" (did you mean "linux_binprm"?)',
    'spec.lsmhooks[1].tags: has 17 items; at most 16 are allowed',
  ]);
});

t.test('errors print as file:line:col: path: message', async (t) => {
  const e = { file: 'p.yaml', line: 3, column: 7, path: 'spec.kprobes[0].call', message: 'boom', severity: 'error', layer: 'kernel' } as const;
  t.equal(formatPolicyError(e), 'p.yaml:3:7: spec.kprobes[0].call: boom');
  t.equal(formatPolicyError({ ...e, severity: 'warning' }), 'p.yaml:3:7: spec.kprobes[0].call: warning: boom');
  t.equal(formatPolicyError({ ...e, path: '' }), 'p.yaml:3:7: boom');
  t.equal(formatPath(['spec', 'podSelector', 'matchLabels', 'app.kubernetes.io/name']), 'spec.podSelector.matchLabels["app.kubernetes.io/name"]');
});

t.test('a refused field of the wrong type is still refused, not let through', async (t) => {
  const doc = {
    apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name: 'mistyped-refused' },
    spec: { kprobes: [{ call: 'sys_openat', syscall: true, selectors: [{ matchWorkloads: [{ kind: 'Deployment', name: 'web' }] }] }] },
  };
  t.same(checkSchema(doc).map((f) => `${formatPath(f.path)}: ${f.message}`), [
    'spec.kprobes[0].selectors[0].matchWorkloads: matchWorkloads is not supported by Vigil: workloads are selected per policy, with podSelector and containerSelector, not per selector',
  ]);
});
