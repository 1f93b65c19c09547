// Fuzzing, bounded and seeded (VIGIL_FUZZ_SEED to replay): thousands of
// mutated TracingPolicies through the linter and compiler, hundreds through
// a running agent's policy directory, and random requests on its control
// socket. Nothing may crash, every lint error is placed inside its file,
// and the agent answers its socket throughout.
// Kernel-independent: policy parsing, linting and the policy directory, in user space; loading on each kernel is tested by the policy-* files.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lintFile } from '../policies/validate/index.js';
import { runningKernel } from '../kernel/facts.js';
import { FEATURES } from '../kernel/features.js';
import { startAgent, REPO, type AgentHandle } from './lib/agent.js';
import { SLOWDOWN } from './lib/kernel.js';
import { suiteFeatures } from './lib/policy-agent.js';
import { request } from '../agent/control/client.js';

const SEED = Number(process.env.VIGIL_FUZZ_SEED ?? 20261203);
// Software emulation runs the stock kernel about ten times slower: fewer cases there, the same kinds.
const SCALE = 1 / SLOWDOWN;
const LINT_CASES = Math.round(3000 * SCALE);
const AGENT_CASES = Math.round(300 * SCALE);
const SOCKET_CASES = Math.round(2000 * SCALE);

/** mulberry32: small, seeded, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []);
}

const CORPUS = [...yamlFiles(join(REPO, 'policies/library')), ...yamlFiles(join(REPO, 'test/fixtures/policies'))].map((f) => readFileSync(f, 'utf8'));

const WORDS = ['Prefix', 'Equal', 'Sigkill', 'Override', 'index', 'values', '-1', '9999999999999999999999', '""', 'null', '~', '[]', '{}',
  '&a', '*a', '!!binary', '0x', 'list:', 'sys_', '\t', '\u0000', '\u202e', '😀', 'CAP_SYS_ADMIN', 'host_ns', ':', '- ', '#', '"', "'", '|', '>'];

/** One mutant of a corpus policy: a handful of text edits. */
function mutate(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  let text = pick(CORPUS);
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const lines = text.split('\n');
    const at = Math.floor(rand() * lines.length);
    switch (Math.floor(rand() * 9)) {
      case 0: lines.splice(at, 1); break;
      case 1: lines.splice(at, 0, lines[Math.floor(rand() * lines.length)] ?? ''); break;
      case 2: lines[at] = (lines[at] ?? '').replace(/:\s*(.*)$/, `: ${pick(WORDS)}`); break;
      case 3: lines[at] = `${' '.repeat(Math.floor(rand() * 12))}${(lines[at] ?? '').trimStart()}`; break;
      case 4: lines[at] = (lines[at] ?? '') + pick(WORDS); break;
      case 5: lines[at] = (lines[at] ?? '').replace(/\d+/, String(Math.floor(rand() * 2 ** 33) - 2 ** 32)); break;
      case 6: lines[at] = (lines[at] ?? '').replace(/: .*$/, `: ${'x'.repeat(Math.floor(rand() * 5000))}`); break;
      case 7: lines.length = Math.max(1, at); break;
      default: {
        const [a, b] = [at, Math.floor(rand() * lines.length)];
        [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
      }
    }
    text = lines.join('\n');
  }
  return text;
}

/** The same policy that only reports: every enforcing action becomes Post. */
const disarm = (text: string): string => text.replace(/Sigkill|Override|Signal|NotifyEnforcer|argError:.*$/gm, (m) => (m.startsWith('argError') ? '' : 'Post'));

const features = suiteFeatures() ?? FEATURES.map((f) => ({ feature: f.id, works: true }));

t.test(`${LINT_CASES} mutated policies through lint and the compiler: no throw, every error placed in its file (seed ${SEED})`, async (t) => {
  const rand = rng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kernel = runningKernel(features);
  let errors = 0;
  let bad = 0;
  let slowest = 0;
  let slowestText = '';
  for (let i = 0; i < LINT_CASES; i++) {
    const text = mutate(rand);
    const file = join(dir, `m${i}.yaml`);
    writeFileSync(file, text);
    const lines = text.split('\n').length;
    const t0 = Date.now();
    let r;
    try {
      r = lintFile(file, { compile: kernel });
    } catch (err) {
      t.fail(`case ${i} threw: ${(err as Error).stack}\n${text}`);
      bad++;
      continue;
    }
    if (Date.now() - t0 > slowest) [slowest, slowestText] = [Date.now() - t0, text];
    for (const e of r.errors) {
      errors++;
      if (!(e.line >= 1 && e.line <= lines + 1 && e.column >= 1 && e.message)) {
        bad++;
        if (bad < 5) t.fail(`case ${i}: an error outside its file: ${JSON.stringify(e)}\n${text}`);
      }
    }
    rmSync(file);
  }
  t.equal(bad, 0, `${errors} errors, each with a line, a column and a message`);
  if (!t.ok(slowest < 15_000 / SCALE, `the slowest file took ${slowest} ms`)) t.comment(slowestText);
});

async function statusMs(agent: AgentHandle): Promise<number> {
  const t0 = Date.now();
  await request(agent.socket, { op: 'status' }, () => undefined);
  return Date.now() - t0;
}

t.test(`${AGENT_CASES} mutated policies through a running agent's policy directory`, async (t) => {
  const rand = rng(SEED + 1);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-dir-'));
  const agent = await startAgent(['--policy-dir', dir]);
  t.teardown(async () => { await agent.stop(); rmSync(dir, { recursive: true, force: true }); });
  let worst = 0;
  for (let i = 0; i < AGENT_CASES; i++) {
    // A few files at a time, each replacing an earlier one, as an editor would. Loaded for real, so
    // no mutant may enforce: a Sigkill on a mutated Prefix could kill this very test.
    writeFileSync(join(dir, `p${i % 8}.yaml`), disarm(mutate(rand)));
    if (i % 8 === 7) {
      await new Promise((r) => setTimeout(r, 300));
      worst = Math.max(worst, await statusMs(agent));
    }
  }
  await new Promise((r) => setTimeout(r, 2000));
  worst = Math.max(worst, await statusMs(agent));
  t.equal(agent.child.exitCode, null, 'the agent is running');
  t.ok(worst < 5000 / SCALE, `status answered within ${worst} ms at worst`);
  let status = '';
  await request(agent.socket, { op: 'status' }, (l) => (status = l));
  t.equal(JSON.parse(status).internal_errors, 0, 'no internal error');
});

function send(socket: string, data: Buffer, close: boolean): Promise<void> {
  return new Promise((resolve) => {
    const c = createConnection(socket);
    const done = (): void => { clearTimeout(timer); resolve(); };
    // A client that sends half a request and waits: the agent must not wait for it, nor this test for long.
    const timer = setTimeout(() => { c.destroy(); done(); }, close ? 2000 : 300);
    c.on('error', done);
    c.on('close', done);
    c.on('data', () => undefined);
    c.on('connect', () => {
      c.write(data);
      if (close) c.end();
    });
  });
}

t.test(`${SOCKET_CASES} random requests on the control socket`, async (t) => {
  const rand = rng(SEED + 2);
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const ops = ['status', 'events', 'policy-list', 'policy-add', 'policy-delete', 'toString', '__proto__', 'constructor', 'valueOf', ''];
  const values = [null, 1, -1, 1e308, 'x', '', [], {}, true, '/etc/passwd', '/dev/zero', '../../etc', 'a'.repeat(100_000)];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const batch: Promise<void>[] = [];
  for (let i = 0; i < SOCKET_CASES; i++) {
    let data: Buffer;
    switch (Math.floor(rand() * 4)) {
      case 0: data = Buffer.from(`${JSON.stringify({ op: pick(ops), path: pick(values), name: pick(values) })}\n`); break;
      case 1: data = Buffer.from(`${JSON.stringify(pick(values))}\n`); break;
      case 2: data = Buffer.from(Array.from({ length: Math.floor(rand() * 512) }, () => Math.floor(rand() * 256))); break;
      default: data = Buffer.from(JSON.stringify({ op: pick(ops) }).slice(0, Math.floor(rand() * 16)));
    }
    batch.push(send(agent.socket, data, rand() < 0.5));
    if (batch.length >= 32) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  t.equal(agent.child.exitCode, null, 'the agent is running');
  const ms = await statusMs(agent);
  t.ok(ms < 5000 / SCALE, `status answers (${ms} ms)`);
  let status = '';
  await request(agent.socket, { op: 'status' }, (l) => (status = l));
  t.equal(JSON.parse(status).internal_errors, 0, 'no internal error');
});
