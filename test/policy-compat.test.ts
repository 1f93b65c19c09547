// Tetragon-format policies covering every hook kind, selector and action
// (test/fixtures/policies/valid/) are loaded into a running agent. What
// must load, with which mechanisms on this kernel, is written out below;
// what must not load fails with exactly the errors listed, each naming its
// field, line and column. Nothing is silently ignored, and a fixture that
// stops loading fails the test.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, runCommand, REPO, VIGIL } from './lib/agent.js';
import { KERNEL, hasFeatures } from './lib/kernel.js';
import type { PolicyState } from '../agent/policy/manager.js';

const DIR = join(REPO, 'test/fixtures/policies/valid');

interface Expected {
  /** Mechanisms of the loaded hooks, in field-path order; skipped hooks are 'skipped'. */
  loaded?: string[];
  /** Every error, as `path: message` (after the file:line:col). */
  errors?: RegExp[];
}

const unsupported = (path: string, what: string): RegExp =>
  new RegExp(`^${path.replace(/[[\].]/g, '\\$&')}: ${what}`);

async function expectations(): Promise<Record<string, Expected>> {
  const [kprobes, lsm] = [await hasFeatures(['kprobes']), await hasFeatures(['bpf_lsm'])];
  // A syscall hook: a kprobe where kprobes exist, else the syscall's tracepoint.
  const syscall = kprobes ? 'kprobe' : 'tracepoint';
  return {
    enforcement: {
      errors: [
        unsupported('spec.kprobes[1].selectors[0].matchActions[0].action', 'action "NotifyEnforcer" is not supported by Vigil: '),
        unsupported('spec.kprobes[1].selectors[0].matchActions[1].action', 'action "Set" is not supported by Vigil: '),
        unsupported('spec.kprobes[1].selectors[0].matchActions[2].action', 'action "CleanupEnforcerNotification" is not supported by Vigil: '),
      ],
    },
    lists: { loaded: [syscall, syscall, syscall] },
    'generated-lists': { errors: [unsupported('spec.kprobes[0].call', 'list "vfs" is of type generated_ftrace, which Vigil does not expand yet')] },
    creds: { loaded: [kprobes ? 'kprobe' : 'skipped'] },
    'lsm-file-open': lsm ? { loaded: ['lsm', 'lsm'] } : {
      errors: [unsupported('spec.lsmhooks[0]', 'bpf_lsm is not supported by this kernel'), unsupported('spec.lsmhooks[1]', 'bpf_lsm is not supported by this kernel')],
    },
    connect: {
      errors: [
        unsupported('spec.kprobes[0].selectors[0].matchActions[0].action', 'action "TrackSock" is not supported by Vigil: '),
        unsupported('spec.kprobes[0].selectors[0].matchActions[1].action', 'action "GetUrl" is not supported by Vigil: '),
        unsupported('spec.kprobes[0].selectors[0].matchActions[2].action', 'action "DnsLookup" is not supported by Vigil: '),
        unsupported('spec.kprobes[1].selectors[0].matchActions[0].action', 'action "UntrackSock" is not supported by Vigil: '),
        unsupported('spec.kprobes[2].selectors[0].matchReturnActions', 'matchReturnActions is not supported by Vigil yet: not evaluated'),
      ],
    },
    'raw-syscalls': { loaded: ['tracepoint', 'tracepoint'] },
  };
}

t.test(`every fixture policy loads, or fails with exactly its listed errors, on ${KERNEL}`, async (t) => {
  const expected = await expectations();
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const seen = new Set<string>();
  for (const name of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    const file = join(DIR, name);
    const r = await runCommand(process.execPath, [VIGIL, 'policy', 'add', file, '--json', '--socket', agent.socket]);
    const states = JSON.parse(r.stdout) as PolicyState[];
    t.ok(states.length > 0, `${name}: the agent answered`);
    for (const s of states) {
      seen.add(s.name);
      const want = expected[s.name];
      if (!want) {
        t.fail(`${s.name}: a fixture policy without an expectation`);
        continue;
      }
      if (want.loaded) {
        t.equal(s.state, 'loaded', `${s.name} loads: ${s.errors.join('; ')}`);
        t.same(s.hooks.map((h) => (h.state === 'skipped' ? 'skipped' : h.mechanism)), want.loaded, `${s.name}: its hooks' mechanisms`);
        continue;
      }
      t.equal(s.state, 'error', `${s.name} does not load`);
      const errors = s.errors.map((e) => {
        t.match(e, new RegExp(`^${file}:\\d+:\\d+: `), `${s.name}: the error names file, line and column: ${e}`);
        return e.slice(e.indexOf(': ') + 2);
      });
      t.equal(errors.length, want.errors!.length, `${s.name}: ${want.errors!.length} errors: ${errors.join(' | ')}`);
      for (const re of want.errors!) t.ok(errors.some((e) => re.test(e)), `${s.name}: ${re}`);
    }
    t.equal(r.code, states.every((s) => s.state === 'loaded') ? 0 : 1, `${name}: exit code matches the states`);
  }
  t.same([...seen].sort(), Object.keys(expected).sort(), 'every expected policy was in the fixtures');
  t.equal(agent.child.exitCode, null, 'the agent kept running through all of them');
});
