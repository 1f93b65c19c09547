// The kernel feature probe behind `vigil probe`. Each feature is tested by
// really loading its tiny program from features.bpf.o, one program per
// object, and attaching it where the hook is what can be missing; then the
// object is closed, which detaches it. A missing feature is a result with
// a reason, never an exception.
import { existsSync, readFileSync } from 'node:fs';
import koffi from 'koffi';
import { BpfObject } from './bpf/object.js';
import { captureMessages, describeError, errno, isNull, libbpf, UprobeOpts, type Ptr } from './bpf/libbpf.js';
import { bpfObjectPath } from './bpf/paths.js';
import { cgroup2Root } from './cgroup.js';
import { VigilError } from './errors.js';
import { unmountFs } from './mounts.js';
import { ensureTracefs } from './tracefs.js';

export interface FeatureResult {
  feature: string;
  works: boolean;
  /** What was done, e.g. 'loaded and attached kprobe/security_file_open'. */
  how: string;
  /** On failure: the kernel's or libbpf's error, one line. */
  reason?: string;
}

type Attach = 'none' | 'auto' | 'cgroup' | 'uprobe';

interface Feature {
  id: string;
  description: string;
  attach: Attach;
  /** What the program does beyond its hook. */
  uses?: string;
  /** The feature this program's type relies on. */
  needs?: string;
}

const TABLE: Feature[] = [
  { id: 'btf', description: 'kernel BTF and CO-RE relocation (task_struct read)', attach: 'none', uses: 'a CO-RE read of task->real_parent->tgid', needs: 'tracepoints' },
  { id: 'tracepoints', description: 'tracepoint programs (tp/syscalls/…)', attach: 'auto' },
  { id: 'tp_btf', description: 'BTF-typed tracepoints (tp_btf/…)', attach: 'auto' },
  { id: 'raw_tracepoints', description: 'raw tracepoints (raw_tp/…)', attach: 'auto' },
  { id: 'kprobes', description: 'kprobes on kernel functions', attach: 'auto' },
  { id: 'kretprobes', description: 'kretprobes on kernel function returns', attach: 'auto', needs: 'kprobes' },
  { id: 'kprobe_multi', description: 'multi-function kprobes through fprobe (kprobe.multi/…)', attach: 'auto' },
  { id: 'fentry', description: 'fentry programs through BPF trampolines', attach: 'auto' },
  { id: 'fexit', description: 'fexit programs through BPF trampolines', attach: 'auto', needs: 'fentry' },
  { id: 'fmod_ret', description: 'fmod_ret programs that can change a return value', attach: 'auto', needs: 'fentry' },
  { id: 'bpf_lsm', description: 'BPF LSM programs (lsm/…), for enforcement', attach: 'auto' },
  { id: 'bpf_override_return', description: 'bpf_override_return from kprobes, for enforcement', attach: 'auto', uses: 'bpf_override_return', needs: 'kprobes' },
  { id: 'cgroup_hooks', description: 'cgroup socket hooks (cgroup/connect4) on cgroup v2', attach: 'cgroup' },
  { id: 'bpf_send_signal', description: 'bpf_send_signal, for kill actions', attach: 'none', uses: 'bpf_send_signal', needs: 'tracepoints' },
  { id: 'ring_buffer', description: 'ring buffer maps and bpf_ringbuf_output', attach: 'none', uses: 'a ring buffer map and bpf_ringbuf_output', needs: 'tracepoints' },
  { id: 'bpf_loop', description: 'the bpf_loop helper', attach: 'none', uses: 'bpf_loop', needs: 'tracepoints' },
  {
    id: 'cgroup_scope', description: 'the current task\'s cgroup v2 and its ancestors, for policies limited to pods', attach: 'none',
    uses: 'bpf_get_current_ancestor_cgroup_id', needs: 'tracepoints',
  },
  { id: 'uprobes', description: 'uprobes on user-space functions (libc)', attach: 'uprobe' },
];

/** The probed features in order, each with a one-line description. */
export const FEATURES: readonly { id: string; description: string }[] = TABLE.map(({ id, description }) => ({ id, description }));

/** The results with the named features marked missing (`vigil run --disable-feature`). */
export function disableFeatures(results: FeatureResult[], ids: readonly string[]): FeatureResult[] {
  const unknown = ids.filter((id) => !FEATURES.some((f) => f.id === id));
  if (unknown.length) {
    throw new VigilError('VIGIL_USAGE', `unknown feature ${unknown.join(', ')}; features: ${FEATURES.map((f) => f.id).join(', ')}`);
  }
  return results.map((r) => (ids.includes(r.feature) ? { ...r, works: false, reason: 'disabled by --disable-feature' } : r));
}

const OBJECT = bpfObjectPath('features');
const UPROBE_FUNC = 'getpid';

export function probeFeatures(): FeatureResult[] {
  // Tracepoint attachment reads event ids from tracefs: mounted for the probe when absent, and unmounted after.
  const { problem: tracefs, mounted } = ensureTracefs();
  let results: FeatureResult[];
  try {
    results = TABLE.map((f) => probeOne(f));
  } finally {
    if (mounted) unmountFs(mounted);
  }
  const byId = new Map(results.map((r) => [r.feature, r]));
  for (const [i, f] of TABLE.entries()) {
    const r = results[i];
    if (r.works) continue;
    if (f.attach === 'auto' && tracefs && r.how.includes(' tp/')) r.reason += ` (${tracefs})`;
    if (f.needs && byId.get(f.needs)?.works === false) r.reason += ` (needs ${f.needs}, which does not work)`;
  }
  return results;
}

function probeOne(f: Feature): FeatureResult {
  const name = `feature_${f.id}`;
  let obj: BpfObject | undefined;
  let how = `load ${name}`;
  let stage = 'open';
  try {
    if (f.id === 'btf' && !existsSync('/sys/kernel/btf/vmlinux')) {
      return { feature: f.id, works: false, how: 'looked for /sys/kernel/btf/vmlinux', reason: '/sys/kernel/btf/vmlinux is missing' };
    }
    obj = BpfObject.open(OBJECT).selectPrograms([name]);
    const section = obj.programs().find((p) => p.name === name)?.section ?? name;
    how = f.attach === 'none' ? `load ${section}` : `load and attach ${section}`;
    stage = 'load';
    obj.load();
    stage = 'attach';
    let target = '';
    if (f.attach === 'auto') obj.attach([name]);
    if (f.attach === 'cgroup') {
      const root = cgroup2Root();
      target = ` to ${root}`;
      obj.attachCgroup(name, root);
    }
    if (f.attach === 'uprobe') {
      const lib = libcPath();
      target = ` to ${UPROBE_FUNC} in ${lib}`;
      attachUprobe(obj, name, lib);
    }
    how = `${f.attach === 'none' ? 'loaded' : 'loaded and attached'} ${section}${target}${f.uses ? ` using ${f.uses}` : ''}`;
    return { feature: f.id, works: true, how };
  } catch (err) {
    return { feature: f.id, works: false, how, reason: `${stage} failed: ${reasonOf(err)}` };
  } finally {
    obj?.close();
  }
}

/** One line from an error: the cause, and the verifier's or libbpf's own words when they add to it. */
function reasonOf(err: unknown): string {
  if (!(err instanceof VigilError)) return oneLine(String((err as Error)?.message ?? err));
  const cause = err.message.replace(/^.* failed: /, '');
  const detail = verifierLine(err.log ?? '') ?? libbpfLine(err.log ?? '', cause);
  return oneLine(detail ? `${cause}: ${detail}` : cause);
}

function verifierLine(log: string): string | undefined {
  const m = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(log);
  if (!m) return undefined;
  const skip = /^(processed \d+ insns|verification time|stack depth|Validating |Func#|\d+: |;)/;
  return m[1].split('\n').map((l) => l.trim()).filter((l) => l && !skip.test(l)).at(-1);
}

/** The first libbpf message that says more than "failed to load/attach". */
function libbpfLine(log: string, cause: string): string | undefined {
  const generic = /BPF program load failed|failed to (load|attach)\b|ulimit|LOAD LOG --/;
  const line = log.split('\n')
    .map((l) => l.replace(/^libbpf: (prog '[^']*': )?/, '').trim())
    .find((l) => l && !generic.test(l));
  return line?.replace(`: ${cause}`, '');
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** The libc this process runs on, from /proc/self/maps. */
function libcPath(): string {
  const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => /\/libc(\.so\.6|-[\d.]+\.so)$/.test(l));
  if (!line) throw new VigilError('VIGIL_NOT_SUPPORTED', 'libc is not mapped into this process');
  return line.slice(line.indexOf('/'));
}

/** Attaches a uprobe (for this process only) and detaches it at once. */
function attachUprobe(obj: BpfObject, name: string, lib: string): void {
  const prog = obj.programs().find((p) => p.name === name)?.ptr;
  const opts = { sz: koffi.sizeof(UprobeOpts), ref_ctr_offset: 0, bpf_cookie: 0, retprobe: false, func_name: UPROBE_FUNC };
  const { value: link } = captureMessages(() => libbpf.programAttachUprobeOpts(prog, 0, lib, 0, opts) as Ptr);
  if (isNull(link)) throw new VigilError('VIGIL_BPF_ATTACH', `attaching ${name} failed: ${describeError(-errno())}`);
  libbpf.linkDestroy(link);
}

export function formatFeatures(results: FeatureResult[]): string {
  const width = Math.max(...results.map((r) => r.feature.length), 'feature'.length);
  const rows = results.map((r) => `${r.feature.padEnd(width)}  ${(r.works ? 'yes' : 'no').padEnd(3)}  ${r.works ? r.how : r.reason ?? r.how}`);
  return [`${'feature'.padEnd(width)}  ${'ok'.padEnd(3)}  how / why not`, ...rows].join('\n');
}
