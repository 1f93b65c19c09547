// `vigil probe` against a known kernel: the host's (VIGIL_KERNEL unset) or
// Debian's stock 6.1 under qemu (VIGIL_KERNEL=stock-6.1, test/vm/run.sh).
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { FEATURES, formatFeatures, probeFeatures } from '../kernel/features.js';

/* true: works, false: does not, RegExp: does not, for this reason. */
type Expect = Record<string, boolean | RegExp>;

const EXPECTED: Record<string, Expect> = {
  // CONFIG_KPROBES unset; trampolines and BPF LSM refused with EPERM.
  host: {
    btf: true, tracepoints: true, tp_btf: true, raw_tracepoints: true,
    kprobes: false, kretprobes: false, kprobe_multi: /not supported/,
    fentry: /not permitted/, fexit: /not permitted/, fmod_ret: /not permitted/, bpf_lsm: /not permitted/,
    bpf_override_return: /bpf_override_return/,
    cgroup_hooks: true, bpf_send_signal: true, ring_buffer: true, bpf_loop: true, cgroup_scope: true, uprobes: true,
  },
  // No CONFIG_BPF_KPROBE_OVERRIDE, no CONFIG_FPROBE; everything else is there.
  'stock-6.1': {
    btf: true, tracepoints: true, tp_btf: true, raw_tracepoints: true,
    kprobes: true, kretprobes: true, kprobe_multi: /not supported/,
    fentry: true, fexit: true, fmod_ret: true, bpf_lsm: true,
    bpf_override_return: /bpf_override_return/,
    cgroup_hooks: true, bpf_send_signal: true, ring_buffer: true, bpf_loop: true, cgroup_scope: true, uprobes: true,
  },
};

const kernel = process.env.VIGIL_KERNEL ?? 'host';
const expected = EXPECTED[kernel];
const openFds = (): number => readdirSync('/proc/self/fd').length;
const tracefsMounted = (): boolean => / tracefs /.test(readFileSync('/proc/mounts', 'utf8'));

if (process.getuid?.() !== 0) {
  t.plan(0, 'loading BPF programs needs root');
} else if (!expected) {
  t.fail(`no expectations for VIGIL_KERNEL=${kernel}; known: ${Object.keys(EXPECTED).join(', ')}`);
} else {
  const fdsBefore = openFds();
  const tracefsBefore = tracefsMounted();
  const results = probeFeatures();
  t.comment(`kernel ${kernel}\n${formatFeatures(results)}`);

  t.test('every feature is reported, in order', async (t) => {
    t.same(results.map((r) => r.feature), FEATURES.map((f) => f.id));
    t.same(Object.keys(expected).sort(), FEATURES.map((f) => f.id).sort(), 'the expectations cover every feature');
  });

  t.test(`what works on ${kernel}`, async (t) => {
    for (const r of results) {
      const want = expected[r.feature];
      t.equal(r.works, want === true, `${r.feature}: ${r.works ? r.how : r.reason}`);
      if (want instanceof RegExp) t.match(r.reason ?? '', want, `${r.feature} fails for the known reason`);
    }
  });

  t.test('results explain themselves in one line', async (t) => {
    for (const r of results) {
      t.ok(r.how, `${r.feature} says how it was probed`);
      if (r.works) {
        t.match(r.how, /^loaded /, `${r.feature}: ${r.how}`);
        t.equal(r.reason, undefined);
      } else {
        t.match(r.reason ?? '', /^(load|attach|open) failed: \S/, `${r.feature} has a reason`);
        t.notMatch(r.reason ?? '', /\n/, `${r.feature}: the reason is one line`);
      }
    }
  });

  t.test('the table has one aligned row per feature', async (t) => {
    const lines = formatFeatures(results).split('\n');
    t.equal(lines.length, results.length + 1);
    const column = lines[0].indexOf('ok');
    for (const [i, r] of results.entries()) {
      t.equal(lines[i + 1].indexOf(r.works ? 'yes' : 'no', r.feature.length), column, r.feature);
    }
  });

  t.test('probing leaves nothing behind', async (t) => {
    t.equal(openFds(), fdsBefore, 'no program, map or link fd stays open');
    t.equal(tracefsMounted(), tracefsBefore, 'tracefs is mounted as before');
  });
}
