// `vigil policy lint` on broken TracingPolicies: each problem is reported
// at its file, line, column and field path, with the layer's own message,
// and a valid set of policies passes with exit code 0.
import tap from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lintFile } from '../policies/validate/index.js';
import { lacking } from './lib/kernel.js';
import { REPO, VIGIL } from './lib/agent.js';

const DIR = 'test/fixtures/policies';

function lint(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [VIGIL, 'policy', 'lint', ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// One run over every invalid fixture (a CLI start is slow under qemu); each test checks its file's lines,
// less the note a kernel without BTF adds and what this kernel's features decide (the compat test's part).
const invalid = lint(`${DIR}/invalid`);
const linesOf = (name: string): string[] => invalid.stdout.split('\n')
  .filter((l) => l.startsWith(`${DIR}/invalid/${name}:`) && !l.includes('kernel checks skipped') && !l.includes('is not supported by this kernel'))
  .map((l) => l.slice(`${DIR}/invalid/${name}:`.length));

const noBtf = await lacking(['btf']);
const noTracefs = await lacking(['tracepoints']);

tap.test('valid policies pass every layer but the compiler, which names what Vigil does not run yet', async (t) => {
  const r = lint('--json', `${DIR}/valid`);
  const errors = (JSON.parse(r.stdout) as { layer: string; severity: string; path: string; message: string }[]).filter((e) => e.severity === 'error');
  t.same(errors.filter((e) => e.layer !== 'compile'), [], 'YAML, schema, semantics and kernel checks pass');
  t.ok(errors.length > 0 && errors.every((e) => /not (supported|evaluated) by (Vigil|this kernel)|does not expand/.test(e.message)), 'compile errors are the parts Vigil does not run');
  t.match(r.stderr, /^5 files, 7 policies: \d+ errors, \d+ warnings?$/m);
  const lists = lint(`${DIR}/valid/tracepoints.yaml`);
  t.equal(lists.code, 0, `a fully supported file passes: ${lists.stdout}`);
});

tap.test('every file is linted, and errors make the exit code 1', async (t) => {
  t.match(invalid.stdout, /^19 files, 20 policies: \d+ errors, \d+ warnings?\n$/m);
  t.equal(invalid.code, 1);
  t.match(invalid.stderr, /VIGIL_POLICY_INVALID/);
});

tap.test('malformed YAML: an unclosed quote, a duplicate key, a tab', async (t) => {
  t.same(linesOf('malformed.yaml'), ['7:11: spec.kprobes[0].call: invalid YAML: missing closing "quote']);
  t.same(linesOf('duplicate-key.yaml'), ['9:5: spec.kprobes[0].call: duplicate key "call"']);
  t.same(linesOf('tab-indent.yaml'), ['8:1: spec.kprobes[0]: tabs are not allowed as indentation']);
});

tap.test('spec.options: fail-closed takes "true" or "false"; Tetragon\'s other options pass', async (t) => {
  t.same(linesOf('bad-option.yaml'), ['10:12: spec.options[1].value: fail-closed takes "true" or "false", not "yes"']);
});

tap.test('an unknown field, with the nearest known one', async (t) => {
  t.same(linesOf('unknown-field.yaml'), ['13:7: spec.kprobes[0].selectors[0].matchArg: unknown field "matchArg" (did you mean "matchArgs"?)']);
});

tap.test('fields of the wrong type', async (t) => {
  t.same(linesOf('wrong-type.yaml'), [
    '8:14: spec.kprobes[0].syscall: expected a boolean (true or false), got the string "no"',
    '10:14: spec.kprobes[0].args[0].index: expected an integer, got the string "one"',
  ]);
});

tap.test('an unknown operator, with a suggestion; an operator that does not fit the arg type', async (t) => {
  t.same(linesOf('bad-operator.yaml'), ['19:19: spec.kprobes[0].selectors[1].matchArgs[0].operator: unknown operator "Prefx" (did you mean "Prefix"?)']);
  t.same(linesOf('prefix-on-int.yaml'), [
    '15:19: spec.kprobes[0].selectors[0].matchArgs[0].operator: operator Prefix does not apply to an arg of type int; ' +
      'it takes Equal, NotEqual, GT, LT, GreaterThan, LessThan, Mask, InMap, NotInMap, InRange, NotInRange',
    '19:18: spec.kprobes[0].selectors[0].matchArgs[1].values[0]: "three" is not an integer',
  ]);
});

tap.test('impossible actions: Override on a tracepoint, Sigkill with a signal, Override and Signal without their argument', { skip: noBtf }, async (t) => {
  t.same(linesOf('impossible-actions.yaml'), [
    '11:17: spec.tracepoints[0].selectors[0].matchActions[0].action: Override works only on kprobes and lsmhooks, not on tracepoints',
    '18:9: spec.kprobes[0].selectors[0].matchActions[0].argSig: warning: Sigkill takes no argSig: it is ignored (Sigkill always sends SIGKILL; use action: Signal to send another signal)',
    '20:17: spec.kprobes[0].selectors[1].matchActions[0].action: Override needs argError, a negative errno such as -1 (EPERM)',
    '22:17: spec.kprobes[0].selectors[2].matchActions[0].action: Signal needs argSig, the signal number (e.g. 9 for SIGKILL)',
  ]);
});

tap.test('an arg index beyond the function\'s parameters, and a filter on an undeclared arg', { skip: noBtf }, async (t) => {
  t.same(linesOf('index-out-of-range.yaml'), [
    '12:14: spec.kprobes[0].args[1].index: index 5 is out of range: fd_install takes 2 arguments',
    '16:16: spec.kprobes[0].selectors[0].matchArgs[0].index: no arg with index 2 (declared: 0, 5)',
  ]);
});

tap.test('kprobe functions and syscalls that do not exist; ignore.callNotFound makes it a warning', { skip: noBtf || noTracefs }, async (t) => {
  t.same(linesOf('missing-function.yaml'), [
    '7:11: spec.kprobes[0].call: kernel function "fd_instal" does not exist in this kernel (did you mean "fd_install"?)',
    '9:11: spec.kprobes[1].call: warning: kernel function "vigil_no_such_function" does not exist in this kernel; ignore.callNotFound skips the hook',
    '13:11: spec.kprobes[2].call: syscall "sys_opnat" does not exist in this kernel (did you mean "sys_openat"?)',
    '14:11: spec.kprobes[3].call: syscall "fd_install" does not exist in this kernel; fd_install is a kernel function: set syscall: false',
  ]);
});

tap.test('tracepoints that do not exist', { skip: noBtf || noTracefs }, async (t) => {
  t.same(linesOf('missing-tracepoint.yaml'), [
    '8:12: spec.tracepoints[0].event: tracepoint "sched/sched_process_exce" does not exist in this kernel (did you mean "sched_process_exec"?)',
    '9:16: spec.tracepoints[1].subsystem: tracepoint subsystem "vigil_nonexistent" does not exist in this kernel',
  ]);
});

tap.test('in a file of two documents, a broken second one leaves the first valid', async (t) => {
  t.same(linesOf('multi-document.yaml'), ['24:19: spec.kprobes[0].selectors[0].matchArgs[0].operator: unknown operator "Equals" (did you mean "Equal"?)']);
  const r = lintFile(`${REPO}/${DIR}/invalid/multi-document.yaml`);
  t.same(r.policies.map((p) => [p.name, p.document]), [['first-is-fine', 0]]);
  t.same(r.errors.map((e) => e.layer), ['schema']);
});

tap.test('a call of a list that is not defined', async (t) => {
  t.same(linesOf('missing-list.yaml'), ['11:11: spec.kprobes[0].call: list "dup" is not defined in spec.lists (did you mean "dups"?)']);
});

tap.test('addresses that are not CIDRs, an empty port range', async (t) => {
  t.same(linesOf('bad-cidr.yaml'), [
    '18:11: spec.kprobes[0].selectors[0].matchArgs[0].values[1]: "10.0.0.0/33" is not an IP address or CIDR: the prefix length must be 0..32',
    '19:11: spec.kprobes[0].selectors[0].matchArgs[0].values[2]: "not-an-address" is not an IP address or CIDR',
    '24:11: spec.kprobes[0].selectors[0].matchArgs[1].values[1]: range 9000:8000 is empty: 9000 > 8000',
  ]);
});

tap.test('network operators on args they do not fit, bad ports, an unknown family, a value where none is taken', async (t) => {
  t.same(linesOf('net-operators.yaml'), [
    '16:19: spec.kprobes[0].selectors[0].matchArgs[0].operator: operator DPort does not apply to an arg of type int; ' +
      'it takes Equal, NotEqual, GT, LT, GreaterThan, LessThan, Mask, InMap, NotInMap, InRange, NotInRange',
    '20:19: spec.kprobes[0].selectors[0].matchArgs[1].operator: operator DAddr does not apply to an arg of type sockaddr; ' +
      'it takes SAddr, NotSAddr, SPort, NotSPort, SPortPriv, NotSPortPriv, NotSportPriv, Family ' +
      '(a sockaddr holds one address and port, matched as the source, as Tetragon does)',
    '26:11: spec.kprobes[0].selectors[0].matchArgs[2].values[0]: "70000" is not a port (0-65535)',
    '27:11: spec.kprobes[0].selectors[0].matchArgs[2].values[1]: "1:2:3" is not a port or a range a:b',
    '31:11: spec.kprobes[0].selectors[0].matchArgs[3].values[0]: unknown address family "AF_INET7" (did you mean "AF_INET"?)',
    '35:9: spec.kprobes[0].selectors[0].matchArgs[4].values: operator SPortPriv takes no values',
  ]);
});

tap.test('a value over Vigil\'s limits', async (t) => {
  t.same(linesOf('limit.yaml'), ['17:11: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: value is 300 bytes long; Vigil\'s limit for Prefix is 252 (POLICY_LIMITS.prefixValueLength)']);
});

tap.test('SubString, FileType and CelExpr: Vigil\'s limits, file type names, and why CelExpr is refused', async (t) => {
  t.same(linesOf('substring.yaml'), [
    '16:17: spec.kprobes[0].selectors[0].matchArgs[0].values: 9 values; Vigil\'s limit is 8 (POLICY_LIMITS.substringValuesPerMatch)',
    '20:11: spec.kprobes[0].selectors[0].matchArgs[1].values[0]: an empty SubStringIgnCase value would match every string',
    '21:11: spec.kprobes[0].selectors[0].matchArgs[1].values[1]: value is 35 bytes long; Vigil\'s limit for SubStringIgnCase is 32 (POLICY_LIMITS.substringValueLength)',
    '24:29: spec.kprobes[0].selectors[0].matchArgs[2].values[1]: unknown file type "directory"; one of fifo, pipe, char, chr, dir, block, blk, regular, reg, symlink, link, lnk, socket, sock',
    '26:19: spec.kprobes[0].selectors[0].matchArgs[3].operator: operator CelExpr is refused: a CEL expression is not evaluated in the kernel by Vigil: '
      + 'it compiles no CEL to BPF, and a filter is refused rather than dropped',
  ]);
});

tap.test('--json prints the errors as one JSON array, the summary on stderr', async (t) => {
  const r = lint('--json', `${DIR}/invalid/bad-operator.yaml`, `${DIR}/invalid/missing-list.yaml`);
  t.same(JSON.parse(r.stdout), [
    {
      file: `${DIR}/invalid/bad-operator.yaml`, line: 19, column: 19, path: 'spec.kprobes[0].selectors[1].matchArgs[0].operator',
      message: 'unknown operator "Prefx" (did you mean "Prefix"?)', severity: 'error', layer: 'schema',
    },
    {
      file: `${DIR}/invalid/missing-list.yaml`, line: 11, column: 11, path: 'spec.kprobes[0].call',
      message: 'list "dup" is not defined in spec.lists (did you mean "dups"?)', severity: 'error', layer: 'semantic',
    },
  ]);
  t.match(r.stderr, /^2 files, 2 policies: 2 errors, 0 warnings$/m);
  t.equal(r.code, 1);
});

tap.test('selectorsMacros: unknown and nested macros, a field set twice, an unused macro', async (t) => {
  t.same(linesOf('macros.yaml'), [
    '7:5: spec.selectorsMacros.etc: warning: macro "etc" is used by no selector',
    '17:7: spec.selectorsMacros.nested.macros: a macro cannot use other macros',
    '18:5: spec.selectorsMacros.unused: warning: macro "unused" is used by no selector',
    '30:16: spec.kprobes[0].selectors[0].macros[0]: macro "cat" sets matchBinaries, which the selector sets too: a field comes from the selector or from one macro',
    '30:21: spec.kprobes[0].selectors[0].macros[1]: macro "missing" is not defined in spec.selectorsMacros (defined: etc, cat, nested, unused)',
  ]);
});

tap.test('selectorsMacros: a problem in a macro\'s part is placed in the macro, naming the selector that used it', async (t) => {
  const { lintText } = await import('../policies/validate/index.js');
  const text = [
    'apiVersion: cilium.io/v1alpha1', 'kind: TracingPolicy', 'metadata: {name: m}', 'spec:', '  selectorsMacros:', '    etc:',
    '      matchArgs:', '      - {index: 1, operator: Prefix, values: ["/etc/"]}', '      - {index: 0, operator: Prefix, values: ["x"]}',
    '  kprobes:', '  - call: sys_openat', '    args: [{index: 0, type: int}, {index: 1, type: string}]',
    '    selectors:', '    - macros: [etc]',
  ].join('\n');
  const r = lintText(text, 'm.yaml', { kernel: false });
  t.same(r.errors.map((e) => `${e.line}:${e.column}: ${e.path}: ${e.message}`), [
    '9:30: spec.selectorsMacros.etc.matchArgs[1].operator: operator Prefix does not apply to an arg of type int; ' +
      'it takes Equal, NotEqual, GT, LT, GreaterThan, LessThan, Mask, InMap, NotInMap, InRange, NotInRange (in the macro, as used by spec.kprobes[0].selectors[0])',
  ]);
  const ok = lintText(text.replace('- {index: 0, operator: Prefix, values: ["x"]}', '- {index: 0, operator: Equal, values: ["-100"]}'), 'm.yaml', { kernel: false });
  t.same(ok.errors, []);
  t.same(ok.policies[0].policy.spec.kprobes![0].selectors, [{ matchArgs: [{ index: 1, operator: 'Prefix', values: ['/etc/'] }, { index: 0, operator: 'Equal', values: ['-100'] }] }], 'the selector holds the macro\'s part, and no macros field');
});

tap.test('Tetragon\'s security_socket_connect deny form lints clean where the cgroup connect programs run it; what they cannot run is an error at its field', { skip: await lacking(['cgroup_hooks']) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lint-connect-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const policy = (name: string, selectors: string[]): string => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, [
      'apiVersion: cilium.io/v1alpha1', 'kind: TracingPolicy', `metadata: {name: ${name}}`, 'spec:', '  kprobes:', '  - call: security_socket_connect', '    syscall: false',
      '    args: [{index: 0, type: socket}, {index: 1, type: sockaddr}, {index: 2, type: int}]', '    selectors:', ...selectors, '',
    ].join('\n'));
    return file;
  };
  const tcpInet = '{index: 0, operator: Protocol, values: [IPPROTO_TCP]}, {index: 1, operator: Family, values: [AF_INET, AF_INET6]}';
  const curl = 'matchBinaries: [{operator: In, values: [/usr/bin/curl]}]';
  const blockOthers = policy('block-others', [
    `    - matchArgs: [${tcpInet}, {index: 1, operator: SAddr, values: [192.168.1.1]}, {index: 1, operator: SPort, values: ["80"]}]`,
    `      ${curl}`, '      matchActions: [{action: Post}]',
    `    - matchArgs: [${tcpInet}]`, `      ${curl}`, '      matchActions: [{action: Override, argError: -1}]',
  ]);
  const denyCurl = policy('deny-curl', [`    - matchArgs: [{index: 1, operator: SAddr, values: [192.0.2.0/24]}, {index: 1, operator: NotSPort, values: ["53"]}]`, `      ${curl}`,
    '      matchPIDs: [{operator: NotIn, values: [1]}]', '      matchNamespaces: [{namespace: Net, operator: In, values: [host_ns]}]', '      matchActions: [{action: Override, argError: -1}]']);
  const ok = lint(blockOthers, denyCurl);
  t.equal(ok.code, 0, `the "block others" example and a deny with matchPIDs, matchBinaries, matchNamespaces pass every layer, the compiler too: ${ok.stdout}`);
  if (!(await lacking(['fmod_ret']))) return;
  const caps = policy('caps', ['    - matchArgs: [{index: 1, operator: SAddr, values: [192.0.2.1]}]', '      matchCapabilities: [{type: Effective, operator: In, values: [CAP_NET_RAW]}]',
    '      matchActions: [{action: Override, argError: -1}]']);
  const bad = lint(caps);
  t.equal(bad.code, 1);
  t.match(bad.stdout, /^.*caps\.yaml:11:\d+: spec\.kprobes\[0\]\.selectors\[0\]\.matchCapabilities: .*cgroup_connect: spec\.kprobes\[0\]\.selectors\[0\]\.matchCapabilities: matchCapabilities is not evaluated by the cgroup connect programs/m,
    'without fmod_ret, the error is at the field the cgroup programs cannot evaluate, and says why');
});
