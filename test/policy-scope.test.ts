// Policies limited to pods (TracingPolicyNamespaced) act only on processes
// in the cgroups their scope holds, on every mechanism this kernel offers.
// Real processes in real cgroup v2 directories: a "pod", a "container"
// below it and another cgroup beside it. Before the scope is known, the
// policy acts on nothing; with the pod's cgroup in the scope, it acts in
// the pod and in the container below it, never on the host or in the other
// cgroup; removing the id lifts it; replace() narrows it to the container.
import t from 'tap';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { cleanupPins, runCommand, startAgent, VIGIL } from './lib/agent.js';
import { hasFeatures, lacking } from './lib/kernel.js';
import { startPolicyAgent, suiteFeatures } from './lib/policy-agent.js';
import { makeCgroups, runIn } from './lib/cgroups.js';
import { listen } from './lib/net.js';
import { cgroup2Root, cgroupId } from '../kernel/cgroup.js';
import { probeFeatures, type FeatureResult } from '../kernel/features.js';
import type { PolicyState } from '../agent/policy/manager.js';
import type { KProbeSelector, TracingPolicySpec } from '../policies/types.generated.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const skip = await lacking(['cgroup_scope', 'cgroup_hooks', 'bpf_send_signal', 'tp_btf']);
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-scope-')));
const CAT = realpathSync('/bin/cat');
const VICTIM = join(dir, 'victim');
copyFileSync(realpathSync('/bin/true'), VICTIM);
chmodSync(VICTIM, 0o755);
for (const d of ['open-kill', 'return-kill', 'lsm-deny', 'fmod-deny']) {
  mkdirSync(join(dir, d));
  writeFileSync(join(dir, d, 'f'), 'x\n');
}
const cg = skip ? undefined : makeCgroups('scope');
const server = skip ? undefined : await listen('127.0.0.7');
t.teardown(() => {
  server?.server.close();
  cg?.remove();
  rmSync(dir, { recursive: true, force: true });
});

type Fate = 'stopped' | 'ran';
const killed = (r: { code: number | null; signal: string | null; stderr: string }): Fate | string =>
  r.signal === 'SIGKILL' ? 'stopped' : r.code === 0 ? 'ran' : `exit ${r.code} ${r.signal ?? ''} ${r.stderr}`;
const denied = (r: { code: number | null; signal: string | null; stderr: string }): Fate | string =>
  r.code !== 0 && /Operation not permitted/.test(r.stderr) ? 'stopped' : r.code === 0 ? 'ran' : `exit ${r.code} ${r.signal ?? ''} ${r.stderr}`;
const prefix = (sub: string): KProbeSelector[] => [{ matchArgs: [{ index: 1, operator: 'Prefix', values: [`${dir}/${sub}/`] }], matchActions: [{ action: 'Sigkill' }] }];
const deny = (index: number, sub: string): KProbeSelector[] => [{ matchArgs: [{ index, operator: 'Prefix', values: [`${dir}/${sub}/`] }], matchActions: [{ action: 'Override', argError: -1 }] }];

interface Case {
  policy: string;
  spec: TracingPolicySpec;
  /** What the policy does to the attempt run in a cgroup (none: the test's own). */
  act: (cgroup?: string) => Promise<Fate | string>;
}

const CASES: Record<string, Case> = {
  'exec-kill': {
    policy: 'scope-exec-kill',
    spec: { kprobes: [{ call: 'sys_execve', syscall: true, args: [{ index: 0, type: 'string' }], selectors: [{ matchArgs: [{ index: 0, operator: 'Equal', values: [VICTIM] }], matchActions: [{ action: 'Sigkill' }] }] }] },
    act: async (c) => killed(await runIn(c, VICTIM)),
  },
  'open-kill': {
    policy: 'scope-open-kill',
    spec: { kprobes: [{ call: 'sys_openat', syscall: true, args: [{ index: 1, type: 'string' }], selectors: prefix('open-kill') }] },
    act: async (c) => killed(await runIn(c, CAT, [join(dir, 'open-kill/f')])),
  },
  'return-kill': {
    policy: 'scope-return-kill',
    spec: { kprobes: [{ call: 'sys_openat', syscall: true, return: true, returnArg: { index: 0, type: 'int' }, args: [{ index: 1, type: 'string' }], selectors: prefix('return-kill') }] },
    act: async (c) => killed(await runIn(c, CAT, [join(dir, 'return-kill/f')])),
  },
  'lsm-deny': {
    policy: 'scope-lsm-deny',
    spec: { lsmhooks: [{ hook: 'file_open', args: [{ index: 0, type: 'file' }], selectors: deny(0, 'lsm-deny') }] },
    act: async (c) => denied(await runIn(c, CAT, [join(dir, 'lsm-deny/f')])),
  },
  'fmod-deny': {
    policy: 'scope-fmod-deny',
    spec: { kprobes: [{ call: 'security_file_open', syscall: false, args: [{ index: 0, type: 'file' }], selectors: deny(0, 'fmod-deny') }] },
    act: async (c) => denied(await runIn(c, CAT, [join(dir, 'fmod-deny/f')])),
  },
  'connect-deny': {
    policy: 'scope-connect-deny',
    spec: { kprobes: [{ call: 'tcp_connect', syscall: false, args: [{ index: 0, type: 'sock' }], selectors: [{ matchArgs: [{ index: 0, operator: 'DAddr', values: ['127.0.0.7/32'] }], matchActions: [{ action: 'Override', argError: -1 }] }] }] },
    act: async (c) => denied(await runIn(c, 'bash', ['-c', `exec 3<>/dev/tcp/127.0.0.7/${server!.port}`])),
  },
};

/** A TracingPolicyNamespaced file per case; returns their paths. */
function writePolicies(names: string[], sub: string): string[] {
  return names.map((n) => {
    const c = CASES[n];
    const file = join(dir, `${sub}-${n}.yaml`);
    writeFileSync(file, stringify({ apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicyNamespaced', metadata: { name: c.policy, namespace: 'web' }, spec: c.spec }));
    return file;
  });
}

/** This kernel's features, less those named. */
function without(hidden: string[]): FeatureResult[] {
  return (suiteFeatures() ?? probeFeatures()).map((f) => (hidden.includes(f.feature) ? { ...f, works: false, reason: 'hidden by the test' } : f));
}

const [kprobes, fentry, lsm] = [await hasFeatures(['kprobes', 'kretprobes']), await hasFeatures(['fentry', 'fexit', 'fmod_ret']), await hasFeatures(['bpf_lsm'])];

/** Each run: features hidden, and per case the mechanism expected (cases whose mechanism is missing are left out). */
const RUNS: { name: string; hidden: string[]; expect: Record<string, string> }[] = [
  {
    name: 'the mechanisms Vigil picks', hidden: [],
    expect: {
      'exec-kill': kprobes ? 'exec_kprobe' : fentry ? 'exec_fentry' : 'exec',
      'open-kill': kprobes ? 'kprobe' : fentry ? 'fentry' : 'tracepoint',
      'return-kill': kprobes ? 'kretprobe' : fentry ? 'fexit' : 'tracepoint',
      ...(lsm ? { 'lsm-deny': 'lsm' } : {}),
      ...(fentry ? { 'fmod-deny': 'fmod_ret' } : {}),
      'connect-deny': 'cgroup_connect',
    },
  },
  ...(kprobes && fentry ? [{
    name: 'the trampolines (kprobes hidden)', hidden: ['kprobes', 'kretprobes'],
    expect: { 'exec-kill': 'exec_fentry', 'open-kill': 'fentry', 'return-kill': 'fexit' },
  }] : []),
  ...(kprobes || fentry ? [{
    name: 'sched_process_exec and the syscall tracepoints (kprobes and trampolines hidden)', hidden: ['kprobes', 'kretprobes', 'fentry', 'fexit'],
    expect: { 'exec-kill': 'exec', 'open-kill': 'tracepoint', 'return-kill': 'tracepoint' },
  }] : []),
  {
    name: 'the syscall dispatcher (kprobes, trampolines and syscall tracepoints hidden)', hidden: ['kprobes', 'kretprobes', 'fentry', 'fexit', 'tracepoints'],
    expect: { 'open-kill': 'syscall_dispatch' },
  },
];

for (const run of RUNS) {
  t.test(`a scoped policy acts only in its cgroups: ${run.name}`, { skip }, async (t) => {
    const names = Object.keys(run.expect);
    const p = await startPolicyAgent({ features: without(run.hidden), policies: writePolicies(names, run.hidden.join('-') || 'all') });
    t.teardown(() => p.stop());
    const status = p.agent.status() as { policies: { name: string; state: string }[]; hooks: { policyName: string; mechanism: string }[] };
    for (const n of names) {
      const { policy } = CASES[n];
      t.match(status.policies.find((s) => s.name === policy), { state: 'loaded' }, `${policy} loads`);
      const mech = status.hooks.find((h) => h.policyName === policy)?.mechanism ?? (n === 'connect-deny' ? 'cgroup_connect' : 'none');
      t.equal(mech, run.expect[n], `${policy} runs on ${run.expect[n]}`);
    }
    const { pod, ctr, other } = cg!;
    for (const n of names) {
      const { policy, act } = CASES[n];
      const scope = p.agent.scopes.get(policy)!;
      t.ok(scope, `${policy}: one scope`);
      t.match(scope.status(), { namespace: 'web', level: 'pod', cgroups: 0, known: false, note: /^scope unknown: no pods in scope yet/ });
      t.equal(await act(pod), 'ran', `${policy}, scope unknown: acts on nothing, not even in the pod`);
      t.equal(await act(undefined), 'ran', `${policy}, scope unknown: not on the host`);

      const podId = scope.addCgroup(pod);
      t.equal(podId, cgroupId(pod));
      t.equal(await act(pod), 'stopped', `${policy}: the pod's cgroup in scope: stopped in the pod`);
      t.equal(await act(ctr), 'stopped', `${policy}: and in a container below the pod`);
      t.equal(await act(other), 'ran', `${policy}: not in another cgroup`);
      t.equal(await act(undefined), 'ran', `${policy}: not on the host`);

      t.ok(scope.remove(podId));
      t.equal(await act(pod), 'ran', `${policy}: the id removed, the pod runs`);
      t.equal(await act(ctr), 'ran', `${policy}: and so does its container`);

      scope.replace([cgroupId(ctr)]);
      t.equal(await act(ctr), 'stopped', `${policy}: replace() with the container's cgroup: stopped in it`);
      t.equal(await act(pod), 'ran', `${policy}: not in the pod above it`);
      t.same(scope.ids(), [cgroupId(ctr)]);
      t.match(scope.status(), { cgroups: 1, known: true, note: '1 pod cgroup in scope' });
      scope.replace([]);
      t.match(scope.status(), { cgroups: 0, known: true, note: /^no pods in scope: the policy acts on nothing/ });
    }
  });
}

t.test('the hooks of a policy share one scope, and a new version of the policy with the same scope keeps it', { skip }, async (t) => {
  const file = join(dir, 'shared.yaml');
  const spec = (message: string): TracingPolicySpec => ({
    kprobes: [CASES['exec-kill'].spec.kprobes![0], { ...CASES['open-kill'].spec.kprobes![0], message }],
  });
  const write = (message: string, namespace = 'web') =>
    writeFileSync(file, stringify({ apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicyNamespaced', metadata: { name: 'shared', namespace }, spec: spec(message) }));
  write('v1');
  const p = await startPolicyAgent({ policies: [file] });
  t.teardown(() => p.stop());
  const events: string[] = [];
  p.agent.scopes.onChange((event, s) => events.push(`${event} ${s.policyName} ${s.namespace}`));
  t.equal(p.agent.scopes.list().length, 1, 'two hooks, one scope');
  const scope = p.agent.scopes.get('shared')!;
  scope.addCgroup(cg!.pod);
  t.equal(await CASES['exec-kill'].act(cg!.pod), 'stopped', 'the exec hook sees the pod');
  t.equal(await CASES['open-kill'].act(cg!.pod), 'stopped', 'the open hook sees it too: one map');

  write('v2');
  await p.agent.reload();
  t.equal(p.agent.scopes.get('shared'), scope, 'the new version took the same scope');
  t.same(scope.ids(), [cgroupId(cg!.pod)], 'with what it held');
  t.equal(await CASES['exec-kill'].act(cg!.pod), 'stopped', 'and the new version enforces in the pod at once');

  write('v3', 'shop');
  await p.agent.reload();
  const next = p.agent.scopes.get('shared')!;
  t.not(next, scope, 'another namespace is another scope');
  t.match(next.status(), { namespace: 'shop', known: false, cgroups: 0 });
  t.equal(await CASES['exec-kill'].act(cg!.pod), 'ran', 'which starts empty: the pod of the old scope is not in it');
  t.throws(() => scope.add(1n), { code: 'VIGIL_SCOPE' }, 'the old scope is closed');
  t.same(events, ['added shared shop', 'removed shared web'], 'the Kubernetes side hears of both');
  t.throws(() => next.addCgroup(cgroup2Root()), { code: 'VIGIL_SCOPE', message: /the cgroup v2 root/ }, 'the root is never a scope');
});

t.test('vigil policy list says why a scoped policy acts on nothing', { skip }, async (t) => {
  const [file] = writePolicies(['exec-kill'], 'list');
  const agent = await startAgent(['--policy', file]);
  t.teardown(() => agent.stop());
  const json = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', agent.socket]);
  const [state] = JSON.parse(json.stdout) as PolicyState[];
  t.match(state, { name: 'scope-exec-kill', state: 'loaded', scope: { namespace: 'web', level: 'pod', cgroups: 0, known: false } });
  const text = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--socket', agent.socket]);
  t.match(text.stdout, /^ {2}scope: namespace web: scope unknown: no pods in scope yet \(no word from Kubernetes\); the policy acts on nothing$/m);
  t.equal(await CASES['exec-kill'].act(undefined), 'ran', 'and it does not act on the host');
});

t.test('a scoped Sigkill outlives a kill -9 of the agent, and a restarted agent adopts it with what its scope held', { skip }, async (t) => {
  const [file] = writePolicies(['exec-kill'], 'pinned');
  const home = mkdtempSync(join(tmpdir(), 'vigil-policy-'));
  const child = spawn(process.execPath, [join(HERE, 'lib/scope-agent-child.js'), home, file, cg!.pod], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.kill('SIGKILL');
    cleanupPins(`/sys/fs/bpf/${basename(home)}`, join(home, 'vigil.sock'));
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`the agent exited with ${code}`)));
  });
  t.equal(await CASES['exec-kill'].act(cg!.pod), 'stopped', 'the agent enforces in the pod');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.equal(await CASES['exec-kill'].act(cg!.pod), 'stopped', 'with the agent dead, still in the pod');
  t.equal(await CASES['exec-kill'].act(cg!.other), 'ran', 'and still not in another cgroup');

  const p = await startPolicyAgent({ dir: home, policies: [file] });
  t.teardown(() => p.stop());
  const list = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', join(home, 'vigil.sock')]);
  const [state] = JSON.parse(list.stdout) as PolicyState[];
  t.match(state, { name: 'scope-exec-kill', hooks: [{ reason: /adopted from the pins/ }], scope: { cgroups: 1, known: false } }, 'the restarted agent adopts the hook');
  const scope = p.agent.scopes.get('scope-exec-kill')!;
  t.same(scope.ids(), [cgroupId(cg!.pod)], 'and its scope, with the pod in it');
  t.match(scope.status(), { known: false, note: '1 pod cgroups kept from before a restart; not confirmed by Kubernetes yet' });
  scope.replace([]);
  t.equal(await CASES['exec-kill'].act(cg!.pod), 'ran', 'the scope it took over is the one the hook checks');
});
