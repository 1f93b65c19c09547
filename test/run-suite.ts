// `npm test`: the whole suite, on the host kernel and again on Debian's
// stock kernel under qemu (test/vm/run.sh), one boot for the whole VM run.
//
//   node dist/test/run-suite.js [--host-only | --vm-only] [--inner] [files…]
//
// Each test file runs in its own node process and prints TAP; its
// top-level subtests are the tests counted here. Files named host-*.test.ts
// run on the host only, with the others: they need what the VM does not
// give (a real rsyslogd, promtool; test/install.sh installs them before the
// host run). Kubernetes tests
// (test/k8s-*.test.ts) run on the host only, after the other host files and
// beside the VM run, against the test cluster (test/cluster/): its build
// starts with the suite, and the cluster is stopped after them. A skip counts only when
// its reason is a feature the kernel's probe reports missing; in CI any
// other skip, and a VM that did not boot, are failures. The last line is
// "N passed, N failed".
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync as readText, rmSync } from 'node:fs';
import { readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEATURE_SKIP, KERNEL } from './lib/kernel.js';
import type { FeatureResult } from '../kernel/features.js';

const DIST_TEST = fileURLToPath(new URL('.', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CI = process.env.CI === 'true' || process.env.CI === '1';
const RESULT_TAG = 'VIGIL_SUITE_RESULT ';

interface Tally {
  kernel: string;
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

function testFiles(dir = DIST_TEST): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const TOP = /^(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO)\b ?(.*?))?(?: # time=[\d.]+m?s)?$/;

/** The bpffs directories of the test agents (test/lib/agent.ts, test/lib/policy-agent.ts): mkdtemp names. */
const TEST_PINS = /^vigil-(test|policy)-[A-Za-z0-9]{6}$/;

/**
 * Removes what test agents left pinned; returns their names. A file killed
 * before its teardown leaves its enforcement attached, and every later
 * test (and benchmark) on this kernel would pay for it on each syscall.
 */
function sweepPins(): string[] {
  if (!existsSync('/sys/fs/bpf')) return [];
  const left = readdirSync('/sys/fs/bpf').filter((n) => TEST_PINS.test(n));
  for (const n of left) rmSync(join('/sys/fs/bpf', n), { recursive: true, force: true });
  return left;
}

/** Runs one file; counts its top-level tests into tally. */
function runFile(file: string, tally: Tally, missing: Set<string>, env: NodeJS.ProcessEnv): Promise<void> {
  const name = relative(DIST_TEST, file).replace(/\.js$/, '.ts');
  const timeoutMs = Number(process.env.VIGIL_TEST_TIMEOUT ?? 600) * 1000;
  const t0 = Date.now();
  return new Promise((resolve) => {
    // Its own process group: a file past its time is killed with the agents and commands it started.
    const child = spawn(process.execPath, [file], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let tap = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (tap += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (tap += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is gone already
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const left = sweepPins();
      if (left.length) console.log(`  note ${name}: removed what its agents left pinned: ${left.join(', ')}`);
      let counted = 0;
      let failedHere = false;
      for (const line of tap.split('\n')) {
        const m = TOP.exec(line);
        if (!m) continue;
        counted++;
        const [, status, title, directive, reason] = m;
        if (directive === 'SKIP') {
          const feature = FEATURE_SKIP.exec(reason ?? '');
          const legit = feature && feature[1].split(', ').every((f) => missing.has(f));
          if (CI && !legit) {
            tally.failed++;
            failedHere = true;
            tally.failures.push(`${name}: ${title}: skipped in CI without a missing kernel feature (${reason || 'no reason'})`);
          } else {
            tally.skipped++;
          }
          console.log(`  skip ${name}: ${title} (${reason})`);
        } else if (status === 'ok') {
          tally.passed++;
        } else {
          tally.failed++;
          failedHere = true;
          tally.failures.push(`${name}: ${title}`);
          console.log(`  FAIL ${name}: ${title}`);
        }
      }
      if (code !== 0 && !failedHere) {
        tally.failed++;
        failedHere = true;
        tally.failures.push(`${name}: exited with ${signal ?? code}${counted ? '' : ' before any test'}`);
      }
      console.log(`${failedHere ? 'not ok' : 'ok'} ${name} [${KERNEL}] ${Math.round((Date.now() - t0) / 1000)} s`);
      if (failedHere) console.log(tap.split('\n').slice(-80).map((l) => `    | ${l}`).join('\n'));
      resolve();
    });
  });
}

async function runHere(files: string[]): Promise<Tally> {
  const { probeFeatures } = await import('../kernel/features.js');
  const features: FeatureResult[] = probeFeatures();
  const missing = new Set(features.filter((f) => !f.works).map((f) => f.feature));
  console.log(`# kernel ${KERNEL}: features missing: ${[...missing].join(', ') || 'none'}`);
  // tap's own whole-file timeout (30 s by default) matches the runner's, which is longer under emulation.
  const env = { ...process.env, VIGIL_FEATURES: JSON.stringify(features), TAP_TIMEOUT: process.env.VIGIL_TEST_TIMEOUT ?? '600' };
  const tally: Tally = { kernel: KERNEL, passed: 0, failed: 0, skipped: 0, failures: [] };
  // A suite killed before its teardowns left these.
  const stale = sweepPins();
  if (stale.length) console.log(`# removed what an earlier run's agents left pinned: ${stale.join(', ')}`);
  for (const f of files) await runFile(f, tally, missing, env);
  return tally;
}

/** Boots the stock kernel once and runs this script inside it; its output is printed when it is done. */
function runInVm(fileArgs: string[]): Promise<Tally> {
  const kernel = 'stock-6.1';
  const inner = ['node', relative(REPO, fileURLToPath(import.meta.url)), '--inner', ...fileArgs.map((f) => relative(REPO, f))];
  // One boot for every file: the whole run's limit, while each file keeps its own (runFile) inside.
  const env = { ...process.env, VIGIL_VM_TIMEOUT: process.env.VIGIL_VM_TIMEOUT ?? '3200' };
  const child = spawn('bash', [join(REPO, 'test/vm/run.sh'), ...inner], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  return new Promise((resolve) => {
    child.on('close', (status) => {
      process.stdout.write(out.split('\n').filter((l) => !l.startsWith(RESULT_TAG)).join('\n'));
      const line = out.split('\n').find((l) => l.startsWith(RESULT_TAG));
      resolve(line ? JSON.parse(line.slice(RESULT_TAG.length))
        : { kernel, passed: 0, failed: 1, skipped: 0, failures: [`the VM run did not complete (exit ${status})`] });
    });
  });
}

function summary(tallies: Tally[]): number {
  console.log('\n# summary');
  for (const t of tallies) {
    console.log(`# ${t.kernel.padEnd(24)} ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
    for (const f of t.failures) console.log(`#   failed: ${f}`);
  }
  const passed = tallies.reduce((n, t) => n + t.passed, 0);
  const failed = tallies.reduce((n, t) => n + t.failed, 0);
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

const isK8s = (file: string): boolean => basename(file).startsWith('k8s-');
/** host-*: the host's own packages; internals/: code, not the kernel (their BPF maps are plain hash maps). */
const isHostOnly = (file: string): boolean => basename(file).startsWith('host-') || relative(DIST_TEST, file).startsWith('internals/');

/**
 * A file whose header says `// Kernel-independent: why` tests what the agent
 * does in user space with what any kernel delivers (its control socket, its
 * exporters, policy files); it runs on the host only, and the VM's time goes
 * to what differs between kernels.
 */
function kernelIndependent(file: string): string | undefined {
  return /^\/\/ Kernel-independent: (.*)$/m.exec(readText(file, 'utf8').slice(0, 4096))?.[1];
}

/** Packages the host-only files need (test/install.sh), installed when missing. */
function installHostPackages(): void {
  const r = spawnSync('bash', [join(REPO, 'test/install.sh')], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) console.log(`# test/install.sh failed (exit ${r.status}): host-only tests that need its packages will fail`);
}
const CLUSTER_LOG = join(REPO, '.cache/cluster-build.log');

/** Builds (or finds cached) the test cluster's binaries and images, in the background. */
function startClusterBuild(): { child: ChildProcess; done: Promise<number>; t0: number } {
  mkdirSync(join(REPO, '.cache'), { recursive: true });
  const out = openSync(CLUSTER_LOG, 'w');
  // Niced: the tests beside it, the VM's qemu above all, keep the CPU.
  const child = spawn('nice', ['-n', '15', 'bash', join(REPO, 'test/cluster/build.sh')], { cwd: REPO, stdio: ['ignore', out, out] });
  const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  console.log(`# test cluster: building in the background (${relative(REPO, CLUSTER_LOG)})`);
  return { child, done, t0: Date.now() };
}

/** Brings the cluster up once its build is done, runs the Kubernetes files, and takes it down. */
async function runK8s(files: string[], build: ReturnType<typeof startClusterBuild>, tally: Tally): Promise<void> {
  const code = await build.done;
  console.log(`# test cluster: build ${code === 0 ? 'done' : `failed (exit ${code})`} after ${Math.round((Date.now() - build.t0) / 1000)} s`);
  const fail = (why: string): void => {
    tally.failed++;
    tally.failures.push(`test cluster: ${why}`);
    console.log(readText(CLUSTER_LOG, 'utf8').split('\n').slice(-40).map((l) => `    | ${l}`).join('\n'));
  };
  if (code !== 0) return fail('the build failed');
  const t0 = Date.now();
  const up = spawnSync('bash', [join(REPO, 'test/cluster/up.sh')], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (up.status !== 0) {
    console.log(`${up.stdout}${up.stderr}`.split('\n').slice(-40).map((l) => `    | ${l}`).join('\n'));
    return fail('up.sh failed');
  }
  console.log(`# test cluster: up in ${Math.round((Date.now() - t0) / 1000)} s`);
  try {
    const t = await runHere(files);
    tally.passed += t.passed;
    tally.failed += t.failed;
    tally.skipped += t.skipped;
    tally.failures.push(...t.failures);
  } finally {
    spawnSync('bash', [join(REPO, 'test/cluster/down.sh')], { cwd: REPO, stdio: 'ignore' });
    console.log('# test cluster: down');
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  // A file may be named by its source (test/x.test.ts) or its build (dist/test/x.test.js).
  const files = args.filter((a) => !a.startsWith('--')).map((f) => join(REPO, f.replace(/^(?:\.\/)?test\/(.*)\.ts$/, 'dist/test/$1.js')));
  const selected = files.length ? files : testFiles();
  if (flags.has('--inner')) {
    const t = await runHere(selected.filter((f) => !isHostOnly(f)));
    console.log(`${RESULT_TAG}${JSON.stringify(t)}`);
    return t.failed ? 1 : 0;
  }
  const k8sFiles = selected.filter(isK8s);
  const k8s = flags.has('--vm-only') ? [] : k8sFiles;
  const plain = selected.filter((f) => !isK8s(f));
  // Named on the command line, a file runs where it is asked to.
  const independent = files.length ? [] : plain.filter((f) => !isHostOnly(f) && kernelIndependent(f));
  for (const f of independent) console.log(`# host kernel only: ${relative(DIST_TEST, f).replace(/\.js$/, '.ts')}: ${kernelIndependent(f)}`);
  const vmFiles = plain.filter((f) => !isHostOnly(f) && !independent.includes(f));
  const build = k8s.length ? startClusterBuild() : undefined;
  const tallies: Tally[] = [];
  // The VM run (one qemu CPU) goes on beside the host files, and the Kubernetes ones after them.
  let vm: Promise<Tally> | undefined;
  if (!flags.has('--host-only') && vmFiles.length) {
    console.log(`# stock kernel under qemu: one boot for the whole run, beside the host run${k8sFiles.length || vmFiles.length < plain.length ? ' (the host-only and Kubernetes tests run on the host only)' : ''}; its results follow the host's`);
    vm = runInVm(files.length || k8sFiles.length || vmFiles.length < plain.length ? vmFiles : []);
  }
  let host: Tally | undefined;
  if (!flags.has('--vm-only')) {
    console.log(`# host kernel: ${plain.length} test files${k8s.length ? `, then ${k8s.length} Kubernetes test files` : ''}`);
    if (plain.some(isHostOnly)) installHostPackages();
    host = await runHere(plain);
    tallies.push(host);
  }
  if (build && host) await runK8s(k8s, build, host);
  if (vm) tallies.push(await vm);
  return summary(tallies);
}

process.exitCode = await main();
