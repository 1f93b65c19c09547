// A user writes selector parts once, in spec.selectorsMacros, and names
// them in each selector's macros. The agent loads the policy file with
// the macros merged in: the merged filters select in the kernel, and a
// selector's own actions run with a macro's filters.
import t from 'tap';
import { mkdirSync, writeFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking, SLOWDOWN } from './lib/kernel.js';
import { startPolicyAgent, type PolicyAgent } from './lib/policy-agent.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const CAT = realpathSync('/bin/cat');
const HEAD = realpathSync('/usr/bin/head');
const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop', 'bpf_send_signal']);

let p: PolicyAgent;
let dir: string;

t.before(async () => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-macros-')));
  for (const d of ['watched', 'other']) mkdirSync(join(dir, d));
  for (const f of ['watched/a.txt', 'other/c.txt', 'other/d.secret']) writeFileSync(join(dir, f), `${f}\n`);
  const policy = join(dir, 'macros.yaml');
  writeFileSync(policy, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: macros
spec:
  selectorsMacros:
    watched:
      matchArgs:
      - index: 1
        operator: Prefix
        values: ["${dir}/watched/"]
    cat-only:
      matchBinaries:
      - operator: In
        values: ["${CAT}"]
    secret:
      matchArgs:
      - index: 1
        operator: Postfix
        values: [".secret"]
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 0
      type: int
    - index: 1
      type: string
    selectors:
    - macros: [watched, cat-only]
    - macros: [secret]
      matchBinaries:
      - operator: In
        values: ["${CAT}"]
      matchActions:
      - action: Sigkill
`);
  p = await startPolicyAgent({ policies: [policy] });
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ours = (ev: TetragonEvent): boolean => ev.process_kprobe?.policy_name === 'macros' && !!ev.process_kprobe.args[1]?.string_arg?.startsWith(dir);

async function run(cmd: string, args: string[]): Promise<Awaited<ReturnType<typeof runCommand>>> {
  const r = await runCommand(cmd, args);
  await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of ${cmd}`, 20_000 * SLOWDOWN);
  return r;
}

t.test('the policy loads with its macros merged', { skip }, async (t) => {
  t.match(p.agent.status(), { policies: [{ name: 'macros', state: 'loaded' }] });
});

t.test('two macros in one selector: a watched file opened by cat is reported; by head, or another file, not', { skip }, async (t) => {
  const watched = join(dir, 'watched/a.txt');
  const r = await run(CAT, [watched]);
  t.equal(r.stdout, 'watched/a.txt\n');
  const k = (await p.waitFor((ev) => ours(ev) && ev.process_kprobe!.process.pid === r.pid, 'the watched open', 20_000 * SLOWDOWN)).process_kprobe!;
  t.equal(k.args[1].string_arg, watched);
  t.equal(k.action, 'KPROBE_ACTION_POST');
  await run(HEAD, [watched]);
  await run(CAT, [join(dir, 'other/c.txt')]);
  t.same(p.events().filter(ours).map((ev) => ev.process_kprobe!.args[1].string_arg), [watched], 'only the one open');
});

t.test('a macro\'s filter with the selector\'s own matchBinaries and Sigkill: cat opening a .secret file is killed', { skip }, async (t) => {
  const secret = join(dir, 'other/d.secret');
  const r = await run(CAT, [secret]);
  t.equal(r.signal, 'SIGKILL');
  t.equal(r.stdout, '', 'cat never printed the file');
  const k = (await p.waitFor((ev) => ours(ev) && ev.process_kprobe!.args[1].string_arg === secret, 'the Sigkill event', 20_000 * SLOWDOWN)).process_kprobe!;
  t.equal(k.action, 'KPROBE_ACTION_SIGKILL');
  const h = await run(HEAD, [secret]);
  t.equal(h.signal, null, 'head is not cat');
  t.equal(h.stdout, 'other/d.secret\n');
});
