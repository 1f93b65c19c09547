// A user hooks a function of a program (Tetragon's spec.uprobes): the
// test builds a real binary, loads a policy on its symbol, its file offset
// or its address, runs it, and checks the process_uprobe events, the
// in-kernel filters (matchArgs, matchBinaries, matchPIDs) and the kernel's
// verdict (Sigkill, Signal: the call never returns). Override is refused
// with its reason, at lint and at load.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, VIGIL, runCommand } from './lib/agent.js';
import { lacking, SLOWDOWN } from './lib/kernel.js';
import { buildProgram } from './lib/programs.js';
import { startPolicyAgent, type PolicyAgent } from './lib/policy-agent.js';
import type { ProcessUprobe, TetragonEvent } from '../exporters/tetragon.js';
import { ElfFile } from '../kernel/elf.js';
import { compactLine } from '../exporters/compact.js';
import { validateTetragonLine } from './lib/tetragon-schema.js';

const skip = await lacking(['uprobes', 'ring_buffer', 'bpf_loop']);
const SYMBOL = 'vigil_uprobe_target';
const dir = mkdtempSync(join(tmpdir(), 'vigil-uprobe-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const PROG = buildProgram('uprobe-target', dir);

/** The symbol's address as the file's symbol table gives it (nm). */
const address = Number.parseInt(execFileSync('nm', [PROG], { encoding: 'utf8' }).split('\n').find((l) => l.endsWith(` ${SYMBOL}`))!.split(' ')[0], 16);

let seq = 0;
/** Writes a policy with one uprobe on PROG; `probe` is the uprobe's YAML after its path. */
function policyFile(name: string, probe: string): string {
  const file = join(dir, `${name}-${seq++}.yaml`);
  writeFileSync(file, `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: ${name}\nspec:\n  uprobes:\n  - path: "${PROG}"\n${probe}`);
  return file;
}

const ARGS = `    args:\n    - index: 0\n      type: int\n    - index: 1\n      type: string\n`;

async function withPolicy(t: Tap, file: string, fn: (p: PolicyAgent) => Promise<void>): Promise<void> {
  const p = await startPolicyAgent({ policies: [file] });
  try {
    const states = p.agent.status().policies as { name: string; state: string; errors?: unknown }[];
    t.equal(states[0]?.state, 'loaded', JSON.stringify(states));
    if (states[0]?.state === 'loaded') await fn(p);
  } finally {
    await p.stop();
  }
}
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const uprobeOf = (policy: string, pid?: number) => (ev: TetragonEvent): boolean =>
  ev.process_uprobe?.policy_name === policy && (pid === undefined || ev.process_uprobe.process.pid === pid);
const events = (p: PolicyAgent, policy: string, pid: number): ProcessUprobe[] =>
  p.events().filter(uprobeOf(policy, pid)).map((e) => e.process_uprobe!);
const exitOf = (p: PolicyAgent, pid: number) => p.waitFor((ev) => ev.process_exit?.process.pid === pid, `exit of ${pid}`, 20_000 * SLOWDOWN);

t.test('a symbol: each call is a process_uprobe event with the args; matchArgs filters in the kernel', { skip }, async (t) => {
  const file = policyFile('uprobe-symbol', `    symbols: [${SYMBOL}]\n${ARGS}    message: "target called"\n    tags: [test]\n    selectors:\n    - matchArgs:\n      - index: 1\n        operator: Prefix\n        values: [hit]\n`);
  await withPolicy(t, file, async (p) => {
    const r = await runCommand(PROG, ['miss', 'hit-one', 'other', 'hit-two']);
    t.equal(r.stdout, 'after 1 10\nafter 2 20\nafter 3 30\nafter 4 40\n');
    const first = (await p.waitFor(uprobeOf('uprobe-symbol', r.pid), 'the uprobe event', 20_000 * SLOWDOWN)).process_uprobe!;
    t.equal(first.path, PROG);
    t.equal(first.symbol, SYMBOL);
    t.equal(first.action, 'KPROBE_ACTION_POST');
    t.equal(first.message, 'target called');
    t.same(first.tags, ['test']);
    t.equal(first.offset, undefined, 'a symbol, no offset');
    t.equal((first.process as { binary?: string }).binary, PROG);
    await exitOf(p, r.pid);
    t.same(events(p, 'uprobe-symbol', r.pid).map((e) => e.args), [
      [{ int_arg: 2 }, { string_arg: 'hit-one' }],
      [{ int_arg: 4 }, { string_arg: 'hit-two' }],
    ], 'only the calls whose string starts with "hit"');
    // The event's own fields against Tetragon's schema (its processes are the process events' business).
    const { process: _p, parent: _q, ...body } = first;
    t.same(validateTetragonLine(JSON.stringify({ process_uprobe: body, node_name: 'n', time: '2024-05-01T10:00:00Z' })), [], 'the event fits Tetragon\'s schema');
    t.match(compactLine(p.events().find(uprobeOf('uprobe-symbol'))!), `${PROG} ${SYMBOL}`, 'the compact line names file and symbol');
  });
});

t.test('an address and a file offset probe the same function; events carry the offset', { skip }, async (t) => {
  const elf = ElfFile.open(PROG);
  const offset = elf.fileOffset(address)!;
  elf.close();
  for (const [field, value] of [['addrs', address], ['offsets', offset]] as const) {
    const file = policyFile(`uprobe-${field}`, `    ${field}: [${value}]\n    args:\n    - index: 0\n      type: int\n`);
    await withPolicy(t, file, async (p) => {
      const r = await runCommand(PROG, ['a']);
      const ev = (await p.waitFor(uprobeOf(`uprobe-${field}`, r.pid), `the ${field} event`, 20_000 * SLOWDOWN)).process_uprobe!;
      t.equal(ev.symbol, undefined, `${field}: no symbol (left out, as protojson leaves an empty string)`);
      t.equal(ev.offset, String(offset), `${field}: the file offset`);
      t.same(ev.args, [{ int_arg: 1 }]);
    });
  }
});

t.test('return: true reports returnArg as the last arg, and matchReturnArgs filters on it', { skip }, async (t) => {
  const file = policyFile('uprobe-return', `    symbols: [${SYMBOL}]\n    return: true\n    args:\n    - index: 0\n      type: int\n    returnArg:\n      index: 0\n      type: int\n    selectors:\n    - matchReturnArgs:\n      - index: 0\n        operator: Equal\n        values: ["21"]\n`);
  await withPolicy(t, file, async (p) => {
    const r = await runCommand(PROG, ['a', 'xb', 'c']);
    t.equal(r.stdout, 'after 1 10\nafter 2 21\nafter 3 30\n');
    await exitOf(p, r.pid);
    await p.waitFor(uprobeOf('uprobe-return', r.pid), 'the return event', 20_000 * SLOWDOWN);
    t.same(events(p, 'uprobe-return', r.pid).map((e) => e.args), [[{ int_arg: 2 }, { int_arg: 21 }]]);
  });
});

t.test('process filters: matchBinaries and matchPIDs (followForks) decide in the kernel', { skip }, async (t) => {
  const file = policyFile('uprobe-process', `    symbols: [${SYMBOL}]\n    selectors:\n    - matchBinaries:\n      - operator: In\n        values: ["/nonexistent/other"]\n    - matchPIDs:\n      - operator: In\n        followForks: true\n        values: [${process.pid}]\n      matchBinaries:\n      - operator: In\n        values: ["${PROG}"]\n`);
  await withPolicy(t, file, async (p) => {
    const r = await runCommand(PROG, ['a']);
    const ev = (await p.waitFor(uprobeOf('uprobe-process', r.pid), 'the event of our descendant', 20_000 * SLOWDOWN)).process_uprobe!;
    t.equal(ev.process.pid, r.pid);
    const other = spawnSync('setsid', ['-f', PROG, 'b'], { stdio: 'ignore' });
    t.equal(other.status, 0);
    const sh = await runCommand('/bin/sh', ['-c', `exec ${PROG} c`]);
    await exitOf(p, sh.pid);
    t.equal(events(p, 'uprobe-process', sh.pid).length, 1, 'a descendant through sh matches too');
  });
});

t.test('Sigkill and Signal stop the process in the call: the function never returns', { skip: skip || await lacking(['bpf_send_signal']) }, async (t) => {
  for (const [action, signal] of [['Sigkill', 'SIGKILL'], ['Signal\n        argSig: 10', 'SIGUSR1']] as const) {
    const name = `uprobe-${signal.toLowerCase()}`;
    const file = policyFile(name, `    symbols: [${SYMBOL}]\n${ARGS}    selectors:\n    - matchArgs:\n      - index: 1\n        operator: Equal\n        values: [stop]\n      matchActions:\n      - action: ${action}\n`);
    await withPolicy(t, file, async (p) => {
      const r = await runCommand(PROG, ['go', 'stop', 'never']);
      t.equal(r.signal, signal, `${signal}: the process died of it`);
      t.equal(r.stdout, 'after 1 10\n', `${signal}: the call with "stop" never returned`);
      const ev = (await p.waitFor(uprobeOf(name, r.pid), `the ${signal} event`, 20_000 * SLOWDOWN)).process_uprobe!;
      t.equal(ev.action, signal === 'SIGKILL' ? 'KPROBE_ACTION_SIGKILL' : 'KPROBE_ACTION_SIGNAL');
      t.same(ev.args, [{ int_arg: 2 }, { string_arg: 'stop' }]);
    });
  }
});

function lint(file: string): string {
  return spawnSync(process.execPath, [VIGIL, 'policy', 'lint', file], { cwd: REPO, encoding: 'utf8' }).stdout;
}

t.test('lint refuses what cannot run, at its field path, with the reason', async (t) => {
  const override = policyFile('uprobe-override', `    symbols: [${SYMBOL}]\n    selectors:\n    - matchActions:\n      - action: Override\n        argError: -1\n`);
  t.match(lint(override), /spec\.uprobes\[0\]\.selectors\[0\]\.matchActions\[0\]\.action: Override is not supported on uprobes: a uprobe program cannot make a user-space function return early/);
  const both = policyFile('uprobe-both', `    symbols: [${SYMBOL}]\n    offsets: [4096]\n`);
  t.match(lint(both), /spec\.uprobes\[0\]\.offsets: a uprobe needs exactly one of symbols, offsets and addrs/);
  const refs = policyFile('uprobe-refs', `    symbols: [${SYMBOL}, main]\n    refCtrOffsets: [16]\n`);
  t.match(lint(refs), /spec\.uprobes\[0\]\.refCtrOffsets: refCtrOffsets has 1 entries and symbols 2/);
  const missing = policyFile('uprobe-missing', `    symbols: [vigil_uprobe_targt]\n`);
  if (!await lacking(['btf'])) t.match(lint(missing), /spec\.uprobes\[0\]\.symbols\[0\]: .* defines no function vigil_uprobe_targt \(did you mean "vigil_uprobe_target"\?\)/);
  const kernelArg = policyFile('uprobe-file-arg', `    symbols: [${SYMBOL}]\n    args:\n    - index: 0\n      type: file\n`);
  t.match(lint(kernelArg), /spec\.uprobes\[0\]\.args\[0\]: type file names a kernel object/);
});

t.test('an Override policy is refused at load, and nothing of it is attached', { skip }, async (t) => {
  const file = policyFile('uprobe-override-load', `    symbols: [${SYMBOL}]\n    selectors:\n    - matchActions:\n      - action: Override\n        argError: -1\n`);
  const p = await startPolicyAgent({ policies: [file] });
  try {
    const states = p.agent.status().policies as { state: string; hooks: number }[];
    t.match(states[0], { state: 'error', hooks: 0 }, 'refused whole: nothing attached');
  } finally {
    await p.stop();
  }
});
