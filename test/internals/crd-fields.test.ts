// policies/schema/tracing-policy.schema.json and README.md's field reference
// are generated from the facts of Tetragon's CRD and Vigil's decisions
// (scripts/gen-policy-schema.ts): this fails when they drift apart, when a
// CRD field has no decision, and checks that a refused field is a lint
// error at its path, with its reason.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decisionProblems, fieldPaths, loadDecisions, loadFacts } from '../../scripts/crd-fields.js';
import { generatePolicySchema, POLICY_SCHEMA_FILE } from '../../scripts/gen-policy-schema.js';
import { README_FILE, withFieldReference } from '../../scripts/field-reference.js';
import { lintText } from '../../policies/validate/index.js';
import { HOST_LIKE } from '../lib/described-kernel.js';
import { REPO } from '../lib/agent.js';

const facts = loadFacts();
const decisions = loadDecisions();
const REGENERATE = 'run node dist/scripts/gen-policy-schema.js after changing policies/schema/*.yaml';

t.test(`the schema and the README's field reference are generated from the CRD's facts and Vigil's decisions (${REGENERATE})`, async (t) => {
  t.equal(readFileSync(join(REPO, POLICY_SCHEMA_FILE), 'utf8'), generatePolicySchema(facts, decisions));
  const readme = readFileSync(join(REPO, README_FILE), 'utf8');
  t.equal(readme, withFieldReference(readme));
});

t.test('every field path of the CRD is classified: supported, or refused with a reason', async (t) => {
  t.same(decisionProblems(facts, decisions), []);
  const paths = fieldPaths(facts, decisions);
  t.equal(paths.length, facts.paths, 'as many field paths as the facts file says the CRD has');
  t.equal(new Set(paths.map((p) => p.path)).size, paths.length, 'each path once');
  const refused = paths.filter((p) => p.refusal);
  t.ok(refused.every((p) => p.refusal!.reason.length > 10), 'each refusal gives a reason');
  t.ok(paths.every((p) => p.refusal || p.decision), 'each other path has a decision');
  t.comment(`${paths.length} CRD field paths: ${paths.length - refused.length} supported, ${refused.length} refused`);
  t.ok(paths.some((p) => p.path === 'spec.selectorsMacros.*.matchArgs[].operator'), 'map values are walked');
});

/** A policy that lints clean, with `value` set at `path` under its spec. */
function policyWith(path: (string | number)[], value: unknown): string {
  const spec: Record<string, unknown> = {
    kprobes: [{
      call: 'sys_openat', syscall: true, args: [{ index: 1, type: 'string' }],
      selectors: [{ matchArgs: [{ index: 1, operator: 'Prefix', values: ['/etc/'] }], matchActions: [{ action: 'Post' }] }],
    }],
  };
  let node = spec as Record<string | number, unknown>;
  path.slice(0, -1).forEach((seg) => { node = node[seg] as Record<string | number, unknown>; });
  node[path[path.length - 1]] = value;
  return JSON.stringify({ apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name: 'p' }, spec });
}

const lint = (text: string) => lintText(text, 'p.yaml', { kernel: false, compile: HOST_LIKE }).errors.map((e) => `${e.layer}: ${e.path}: ${e.message}`);
const reason = (type: string, field: string): string => decisions.types[type][field].refused!;

t.test('the base policy lints clean', async (t) => {
  t.same(lint(policyWith(['kprobes', 0, 'message'], 'm')), []);
});

t.test('a field the schema refuses is an error at its path, with the reason, whatever it holds', async (t) => {
  const cases: [(string | number)[], unknown, string, string][] = [
    [['usdts'], [{ path: '/bin/true', provider: 'p', name: 'n', bogus: 1 }], 'TracingPolicySpec', 'usdts'],
    [['loader'], true, 'TracingPolicySpec', 'loader'],
    [['hostSelector'], {}, 'TracingPolicySpec', 'hostSelector'],
    [['kprobes', 0, 'args', 0, 'btfType'], 'struct file', 'KProbeArg', 'btfType'],
    [['kprobes', 0, 'selectors', 0, 'matchWorkloads'], { podSelector: { matchLabels: { app: 'x' } } }, 'KProbeSelector', 'matchWorkloads'],
    [['kprobes', 0, 'selectors', 0, 'matchActions', 0, 'argNewSymbol'], 'other', 'ActionSelector', 'argNewSymbol'],
  ];
  for (const [path, value, type, field] of cases) {
    const at = `spec.${path.map((s) => (typeof s === 'number' ? `[${s}]` : s)).join('.').replaceAll('.[', '[')}`;
    t.same(lint(policyWith(path, value)), [`schema: ${at}: ${field} is not supported by Vigil: ${reason(type, field)}`], at);
  }
});

t.test('a field the compiler refuses passes the other layers and is a compile error at its path, with the reason', async (t) => {
  t.same(lint(policyWith(['kprobes', 0, 'args', 0, 'resolve'], 'f_path.dentry')), [
    `compile: spec.kprobes[0].args[0].resolve: resolve is not supported by Vigil yet: ${reason('KProbeArg', 'resolve')}`,
  ]);
  t.same(lint(policyWith(['kprobes', 0, 'selectors', 0, 'matchActions', 0, 'kernelStackTrace'], true)), [
    `compile: spec.kprobes[0].selectors[0].matchActions[0].kernelStackTrace: kernelStackTrace is not supported by Vigil yet: ${reason('ActionSelector', 'kernelStackTrace')}`,
  ]);
});

t.test('a refused field at its zero value means what its absence does', async (t) => {
  t.same(lint(policyWith(['loader'], false)), []);
  t.same(lint(policyWith(['kprobes', 0, 'args', 0, 'btfType'], '')), []);
  t.same(lint(policyWith(['kprobes', 0, 'selectors', 0, 'matchData'], [])), []);
  t.same(lint(policyWith(['kprobes', 0, 'args', 0, 'resolve'], '')), []);
});

t.test('what Tetragon dropped from its CRD is unknown', async (t) => {
  t.same(lint(policyWith(['kprobes', 0, 'selectors', 0, 'matchActions', 0], { action: 'FollowFD', argFd: 0 })), [
    'schema: spec.kprobes[0].selectors[0].matchActions[0].action: unknown action "FollowFD"',
    'schema: spec.kprobes[0].selectors[0].matchActions[0].argFd: unknown field "argFd"',
  ]);
});
