// A user reads kernel objects in policy events, as Tetragon's bpf.yaml,
// monitor-kernel-modules.yaml and user-namespace policies do, and gets
// Tetragon's arg shapes. Everywhere: bpf_cmd on bpf(2) (a kprobe, or the
// syscall's tracepoint) is bpf_cmd_arg, filtered in the kernel; data_loc
// on cgroup/cgroup_mkdir is the path the record locates, with a Prefix
// filter. With kprobes (the stock kernel): a program bpftool loads is
// bpf_attr_arg and bpf_prog_arg, its map bpf_map_arg, a kprobe PMU event
// perf_event_arg, a user namespace user_ns_arg (host and nested), a module
// insmod loads module_arg (struct module and load_info), and a network
// device net_dev_arg. The agent checks every exported line against
// Tetragon's event schema when it stops.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, runCommand } from './lib/agent.js';
import { KERNEL, lacking, SLOWDOWN } from './lib/kernel.js';
import { policyBody, startPolicyAgent, type PolicyAgent } from './lib/policy-agent.js';
import { cgroup2Root } from '../kernel/cgroup.js';
import type { KprobeArgument, TetragonEvent } from '../exporters/tetragon.js';

const BPFTOOL = realpathSync('/usr/sbin/bpftool');
const skip = await lacking(['tracepoints', 'ring_buffer']);
const noKprobes = skip || await lacking(['kprobes']);
const WAIT = 30_000 * SLOWDOWN;

/** A policy file of one hook: kprobes (call) or tracepoints (subsystem/event). */
function policy(name: string, hook: string): string {
  return `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ${name}
spec:
${hook}`;
}
const binaries = (...paths: string[]) => `      matchBinaries:
      - operator: In
        values: [${paths.map((p) => JSON.stringify(p)).join(', ')}]`;

const HOST_POLICIES: Record<string, string> = {
  'bpf-cmd': policy('bpf-cmd', `  kprobes:
  - call: sys_bpf
    syscall: true
    args:
    - { index: 0, type: bpf_cmd }
    selectors:
    - matchArgs:
      - { index: 0, operator: Equal, values: ["0"] }
${binaries(BPFTOOL)}
`),
  'cgroup-dataloc': policy('cgroup-dataloc', `  tracepoints:
  - subsystem: cgroup
    event: cgroup_mkdir
    args:
    - { index: 7, type: data_loc }
    selectors:
    - matchArgs:
      - { index: 0, operator: Prefix, values: ["/vigil-dataloc-"] }
`),
};

/** The stock kernel's crc7.ko, from the VM's kernel package (test/vm/install.sh), which nothing else loads. */
function crc7(): string | undefined {
  const mods = join(REPO, '.cache/vm/kernel/lib/modules');
  if (!existsSync(mods)) return undefined;
  const ko = join(mods, readdirSync(mods)[0], 'kernel/lib/crc7.ko');
  return existsSync(ko) ? ko : undefined;
}

function kprobePolicies(): Record<string, string> {
  const py = realpathSync('/usr/bin/python3');
  const kmod = realpathSync('/usr/sbin/insmod');
  const ip = realpathSync('/usr/sbin/ip');
  const userns = [realpathSync('/usr/bin/unshare'), realpathSync('/usr/bin/hostname')];
  return {
    'bpf-objects': policy('bpf-objects', `  kprobes:
  - call: security_bpf
    syscall: false
    args: [{ index: 0, type: bpf_cmd }, { index: 1, type: bpf_attr }]
    selectors:
    - matchArgs:
      - { index: 0, operator: Equal, values: ["5"] }
${binaries(BPFTOOL)}
  - call: security_bpf_prog
    syscall: false
    args: [{ index: 0, type: bpf_prog }]
    selectors:
    - ${binaries(BPFTOOL).trimStart()}
  - call: security_bpf_map_alloc
    syscall: false
    args: [{ index: 0, type: bpf_map }]
    selectors:
    - ${binaries(BPFTOOL).trimStart()}
`),
    'perf-event': policy('perf-event', `  kprobes:
  - call: security_perf_event_alloc
    syscall: false
    args: [{ index: 0, type: perf_event }]
    selectors:
    - ${binaries(py).trimStart()}
`),
    'user-ns': policy('user-ns', `  kprobes:
  - call: cap_capable
    syscall: false
    args: [{ index: 1, type: user_namespace }, { index: 2, type: capability }]
    selectors:
    - matchArgs:
      - { index: 2, operator: Equal, values: ["21"] }
${binaries(...userns)}
`),
    'modules': policy('modules', `  kprobes:
  - call: do_init_module
    syscall: false
    args: [{ index: 0, type: module }]
    selectors:
    - ${binaries(kmod).trimStart()}
  - call: add_kallsyms
    syscall: false
    args: [{ index: 1, type: load_info }]
    selectors:
    - ${binaries(kmod).trimStart()}
`),
    'net-device': policy('net-device', `  kprobes:
  - call: __dev_change_flags
    syscall: false
    args: [{ index: 0, type: net_device }]
    selectors:
    - matchArgs:
      - { index: 0, operator: Equal, values: ["lo"] }
${binaries(ip)}
`),
  };
}

let p: PolicyAgent;
let dir: string;
let names: string[] = [];
t.before(async () => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-kobj-')));
  const all = { ...HOST_POLICIES, ...(noKprobes ? {} : kprobePolicies()) };
  names = Object.keys(all);
  const files = Object.entries(all).map(([name, text]) => {
    writeFileSync(join(dir, `${name}.yaml`), text);
    return join(dir, `${name}.yaml`);
  });
  p = await startPolicyAgent({ policies: files });
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ofPolicy = (name: string, pid?: number) => (e: TetragonEvent): boolean =>
  policyBody(e)?.policy_name === name && (pid === undefined || policyBody(e)!.process.pid === pid);
const argsOf = (e: TetragonEvent): KprobeArgument[] => policyBody(e)!.args;

t.test('every policy loads', { skip }, async (t) => {
  const policies = p.agent.status().policies as { name: string; state: string; error?: unknown }[];
  const states = Object.fromEntries(policies.map((s) => [s.name, s.error ? `${s.state}: ${JSON.stringify(s.error)}` : s.state]));
  for (const name of names) t.equal(states[name], 'loaded', name);
});

t.test('bpf_cmd: bpftool map create is BPF_MAP_CREATE, and the Equal filter keeps only that command', { skip }, async (t) => {
  const pin = `/sys/fs/bpf/vigil-kobj-map-${process.pid}`;
  const r = await runCommand(BPFTOOL, ['map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'vigil_kobj_map']);
  rmSync(pin, { force: true });
  t.equal(r.code, 0, 'bpftool created the map');
  const ev = await p.waitFor(ofPolicy('bpf-cmd', r.pid), 'bpftool\'s BPF_MAP_CREATE', WAIT);
  t.same(argsOf(ev), [{ bpf_cmd_arg: 'BPF_MAP_CREATE' }]);
  // bpftool issues other commands too (BPF_OBJ_PIN at least): none is reported.
  t.ok(p.events().filter(ofPolicy('bpf-cmd', r.pid)).every((e) => argsOf(e)[0].bpf_cmd_arg === 'BPF_MAP_CREATE'), 'only BPF_MAP_CREATE');
});

t.test('data_loc: the path cgroup_mkdir records, and a Prefix filter on it', { skip }, async (t) => {
  const name = `vigil-dataloc-${process.pid}`;
  const cg = join(cgroup2Root(), name);
  mkdirSync(cg);
  rmdirSync(cg);
  mkdirSync(join(cgroup2Root(), `vigil-other-${process.pid}`));
  rmdirSync(join(cgroup2Root(), `vigil-other-${process.pid}`));
  const ev = await p.waitFor(ofPolicy('cgroup-dataloc'), 'the cgroup_mkdir', WAIT);
  t.same(argsOf(ev), [{ string_arg: `/${name}` }]);
  t.equal(ev.process_tracepoint?.event, 'cgroup_mkdir');
  t.ok(p.events().filter(ofPolicy('cgroup-dataloc')).every((e) => argsOf(e)[0].string_arg!.startsWith('/vigil-dataloc-')), 'the other cgroup is filtered out in the kernel');
});

t.test('bpf_attr, bpf_prog, bpf_map: a program and a map bpftool loads', { skip: noKprobes }, async (t) => {
  const pin = `/sys/fs/bpf/vigil-kobj-prog-${process.pid}`;
  const obj = join(REPO, 'dist/bpf/test/kprobe_open.bpf.o');
  const r = await runCommand(BPFTOOL, ['prog', 'load', obj, pin]);
  rmSync(pin, { force: true });
  t.equal(r.code, 0, 'bpftool loaded the program');
  const mine = (e: TetragonEvent) => policyBody(e)!.process.pid === r.pid;
  const attr = await p.waitFor((e) => ofPolicy('bpf-objects')(e) && mine(e) && argsOf(e)[1]?.bpf_attr_arg?.ProgName === 'kprobe_open', 'BPF_PROG_LOAD of kprobe_open', WAIT);
  t.match(argsOf(attr), [{ bpf_cmd_arg: 'BPF_PROG_LOAD' }, { bpf_attr_arg: { ProgType: 'BPF_PROG_TYPE_KPROBE', ProgName: 'kprobe_open', InsnCnt: Number } }]);
  t.ok(argsOf(attr)[1].bpf_attr_arg!.InsnCnt! > 4, 'the instruction count of a real program');
  const prog = await p.waitFor((e) => ofPolicy('bpf-objects')(e) && mine(e) && argsOf(e)[0]?.bpf_prog_arg?.ProgName === 'kprobe_open', 'the loaded kprobe_open', WAIT);
  t.same(argsOf(prog), [{ bpf_prog_arg: { ProgType: 'BPF_PROG_TYPE_KPROBE', ProgName: 'kprobe_open', InsnCnt: argsOf(prog)[0].bpf_prog_arg!.InsnCnt } }]);
  t.ok(argsOf(prog)[0].bpf_prog_arg!.InsnCnt! > 4);
  // kprobe_open.bpf.c's ring buffer, open_events (names are cut at 15 characters).
  const map = await p.waitFor((e) => ofPolicy('bpf-objects')(e) && mine(e) && argsOf(e)[0]?.bpf_map_arg?.MapName === 'open_events', 'the open_events map', WAIT);
  t.match(argsOf(map), [{ bpf_map_arg: { MapType: 'BPF_MAP_TYPE_RINGBUF', MapName: 'open_events', MaxEntries: Number } }]);

  const mpin = `/sys/fs/bpf/vigil-kobj-map2-${process.pid}`;
  const m = await runCommand(BPFTOOL, ['map', 'create', mpin, 'type', 'lru_hash', 'key', '4', 'value', '24', 'entries', '64', 'name', 'vigil_kobj_lru']);
  rmSync(mpin, { force: true });
  t.equal(m.code, 0, 'bpftool created the map');
  const lru = await p.waitFor((e) => ofPolicy('bpf-objects', m.pid)(e) && argsOf(e)[0]?.bpf_map_arg?.MapName === 'vigil_kobj_lru', 'the vigil_kobj_lru map', WAIT);
  t.same(argsOf(lru), [{ bpf_map_arg: { MapType: 'BPF_MAP_TYPE_LRU_HASH', KeySize: 4, ValueSize: 24, MaxEntries: 64, MapName: 'vigil_kobj_lru' } }]);
});

t.test('perf_event: a kprobe PMU event python opens', { skip: noKprobes }, async (t) => {
  const type = readFileSync('/sys/bus/event_source/devices/kprobe/type', 'utf8').trim();
  // perf_event_open(2) of a kprobe on vfs_read, by struct perf_event_attr's offsets: config1 is kprobe_func.
  const script = `
import ctypes, struct
libc = ctypes.CDLL(None, use_errno=True)
func = ctypes.create_string_buffer(b"vfs_read")
attr = bytearray(128)
struct.pack_into("IIQ", attr, 0, ${type}, 128, 0)
struct.pack_into("QQ", attr, 56, ctypes.addressof(func), 0)
buf = (ctypes.c_char * 128).from_buffer(attr)
fd = libc.syscall(298, buf, -1, 0, -1, 0)
print(fd, ctypes.get_errno())
`;
  const r = await runCommand(realpathSync('/usr/bin/python3'), ['-c', script]);
  t.match(r.stdout, /^\d+ /, 'perf_event_open gave a descriptor');
  const ev = await p.waitFor(ofPolicy('perf-event', r.pid), 'the perf event', WAIT);
  // A dynamic PMU has no PERF_TYPE_ name: its number. Config 0 (not a return probe) and offset 0 are left out.
  t.same(argsOf(ev), [{ perf_event_arg: { KprobeFunc: 'vfs_read', Type: type } }]);
});

t.test('user_namespace: cap_capable\'s namespace, the host\'s and a nested one', { skip: noKprobes }, async (t) => {
  const hostInum = statSync('/proc/self/ns/user').ino;
  // A new UTS namespace, still of the host's user namespace: the machine's name is left alone.
  const h = await runCommand(realpathSync('/usr/bin/unshare'), ['-u', realpathSync('/usr/bin/hostname'), 'vigil-host-ns']);
  t.equal(h.code, 0, 'unshare -u hostname ran');
  const host = await p.waitFor(ofPolicy('user-ns', h.pid), 'CAP_SYS_ADMIN in the host namespace', WAIT);
  t.same(argsOf(host), [
    { user_ns_arg: { level: 0, uid: 0, gid: 0, ns: { inum: hostInum, is_host: true } } },
    { capability_arg: { value: 21, name: 'CAP_SYS_ADMIN' } },
  ]);
  // The stock kernel in the VM refuses unprivileged-style user namespaces (unshare -U gives EPERM there).
  if (spawnSync('/usr/bin/unshare', ['-U', '-r', '/bin/true']).status !== 0) {
    t.comment(`the nested user namespace is not checked on ${KERNEL}: unshare -U is refused here`);
    return;
  }
  const u = await runCommand(realpathSync('/usr/bin/unshare'), ['-U', '-r', '-u', realpathSync('/usr/bin/hostname'), 'vigil-nested']);
  t.equal(u.code, 0, 'unshare -U -r -u hostname ran');
  const nested = await p.waitFor((e) => ofPolicy('user-ns')(e) && policyBody(e)!.process.pid === u.pid && argsOf(e)[0].user_ns_arg?.level === 1, 'CAP_SYS_ADMIN in a new user namespace', WAIT);
  const ns = argsOf(nested)[0].user_ns_arg!;
  t.match(ns, { level: 1, uid: 0, gid: 0, ns: { inum: Number } });
  t.not(ns.ns.inum, hostInum, 'another namespace');
  t.equal(ns.ns.is_host, undefined, 'not the host\'s');
});

t.test('module and load_info: insmod of crc7', { skip: noKprobes || (!crc7() && 'no crc7.ko of the stock kernel (test/vm/install.sh)') }, async (t) => {
  // insmod is kmod by its name: run the link; the event's binary is the file it names.
  const r = await runCommand('/usr/sbin/insmod', [crc7()!]);
  t.equal(r.code, 0, 'insmod loaded crc7');
  const mod = await p.waitFor((e) => ofPolicy('modules', r.pid)(e) && e.process_kprobe?.function_name === 'do_init_module', 'do_init_module', WAIT);
  const m = argsOf(mod)[0].module_arg!;
  t.equal(m.name, 'crc7');
  t.type(m.signature_ok, 'boolean', 'the stock kernel checks signatures (CONFIG_MODULE_SIG)');
  if (!m.signature_ok) t.ok(m.tainted?.includes('TAINT_UNSIGNED_MODULE'), 'an unsigned module taints the kernel');
  const info = await p.waitFor((e) => ofPolicy('modules', r.pid)(e) && e.process_kprobe?.function_name === 'add_kallsyms', 'add_kallsyms', WAIT);
  t.match(argsOf(info), [{ module_arg: { name: 'crc7', signature_ok: m.signature_ok } }]);
  await runCommand('/usr/sbin/rmmod', ['crc7']);
});

t.test('net_device: ip link set lo up, by the device\'s name', { skip: noKprobes }, async (t) => {
  const r = await runCommand(realpathSync('/usr/sbin/ip'), ['link', 'set', 'dev', 'lo', 'up']);
  t.equal(r.code, 0, 'ip set lo up');
  const ev = await p.waitFor(ofPolicy('net-device', r.pid), '__dev_change_flags on lo', WAIT);
  t.same(argsOf(ev), [{ net_dev_arg: { name: 'lo' } }]);
});
