// The control socket against careless and hostile clients: malformed and
// prototype-named requests, a request that never ends, a peer that is not
// root. The agent answers each with an error, stays small and responsive,
// and keeps running.
// Kernel-independent: the control socket, in user space.
import t from 'tap';
import { createConnection } from 'node:net';
import { chmodSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { startAgent, VIGIL } from './lib/agent.js';
import { request } from '../agent/control/client.js';
import { SLOWDOWN } from './lib/kernel.js';

/** Sends raw bytes, returns what the agent answered before it hung up. */
function raw(socket: string, data: string | Buffer, timeoutMs = 10_000 * SLOWDOWN): Promise<string> {
  return new Promise((resolve) => {
    const c = createConnection(socket);
    let out = '';
    const timer = setTimeout(() => { c.destroy(); resolve(`${out}(timeout)`); }, timeoutMs);
    c.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('error', () => undefined);
    c.on('close', () => { clearTimeout(timer); resolve(out); });
    c.on('connect', () => c.write(data));
  });
}

async function status(socket: string): Promise<Record<string, unknown>> {
  let line = '';
  await request(socket, { op: 'status' }, (l) => (line = l));
  return JSON.parse(line);
}

t.test('malformed and prototype-named requests get an error, and the agent carries on', async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const cases: [string, RegExp][] = [
    ['null\n', /a request is a JSON object/],
    ['[]\n', /a request is a JSON object/],
    ['"status"\n', /a request is a JSON object/],
    ['{}\n', /a request has a string "op"/],
    ['{"op":42}\n', /a request has a string "op"/],
    ['{"op":"toString"}\n', /unknown op "toString"/],
    ['{"op":"constructor"}\n', /unknown op "constructor"/],
    ['{"op":"__proto__"}\n', /unknown op "__proto__"/],
    ['{"op":"hasOwnProperty"}\n', /unknown op/],
    ['{"__proto__":{"op":"status"}}\n', /a request has a string "op"/],
    ['not json\n', /request is not JSON/],
    ['{"op":"policy-add","path":"relative.yaml"}\n', /absolute path/],
    ['{"op":"policy-add"}\n', /policy-add needs an absolute path/],
    ['{"op":"policy-add","path":{"toString":1}}\n', /policy-add needs an absolute path/],
    ['{"op":"policy-delete"}\n', /policy-delete needs a policy name/],
  ];
  for (const [req, want] of cases) {
    const answer = await raw(agent.socket, req);
    const parsed = JSON.parse(answer) as { error?: string; deleted?: boolean };
    t.match(parsed.error ?? JSON.stringify(parsed), want, `${req.trim()} → ${answer.trim()}`);
  }
  t.equal(agent.child.exitCode, null, 'still running');
  const s = await status(agent.socket);
  t.ok((s.control as { bad_requests: number }).bad_requests >= 11, 'bad requests are counted');
  t.equal(s.internal_errors, 0, 'no internal error on the way');
});

t.test('a request that never ends is cut at 64 KiB: no memory growth, no stall', async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const before = (await status(agent.socket)).rss_bytes as number;
  const sock = createConnection(agent.socket);
  let closed = false;
  sock.on('error', () => undefined);
  sock.on('close', () => (closed = true));
  await new Promise<void>((r) => sock.on('connect', () => r()));
  const chunk = Buffer.alloc(1 << 20, 'x');
  let sent = 0;
  const t0 = Date.now();
  // 100 MiB without a newline, as fast as the agent takes it.
  while (!closed && sent < 100 << 20) {
    if (!sock.write(chunk)) {
      await new Promise<void>((r) => {
        const done = (): void => { sock.off('drain', done); sock.off('close', done); r(); };
        sock.on('drain', done);
        sock.on('close', done);
      });
    }
    sent += chunk.length;
    if (Date.now() - t0 > 30_000) break;
  }
  t.ok(closed, `the agent hung up after ${sent >> 20} MiB`);
  const started = Date.now();
  const s = await status(agent.socket);
  t.ok(Date.now() - started < 5000 * SLOWDOWN, `status still answers at once (${Date.now() - started} ms)`);
  t.ok((s.rss_bytes as number) - before < 64 << 20, `RSS grew by ${((s.rss_bytes as number) - before) >> 20} MiB`);
});

t.test('a peer that is not root is refused, even when the socket file lets it in', async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  t.equal(statSync(agent.socket).mode & 0o777, 0o600, 'the socket is created root-only');
  // Open the way on purpose, as a careless operator might: SO_PEERCRED still says no.
  chmodSync(dirname(agent.socket), 0o755);
  chmodSync(agent.socket, 0o666);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, VIGIL, 'status', '--socket', agent.socket], { encoding: 'utf8' });
  t.not(r.status, 0, 'vigil status as nobody fails');
  t.match(r.stderr, /answers root only/, r.stderr.trim());
  t.equal(((await status(agent.socket)).control as { refused_peers: number }).refused_peers, 1, 'the refusal is counted');
});

t.test('a client that connects and never finishes its request is dropped, not waited for', async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const t0 = Date.now();
  const answer = await raw(agent.socket, '{"op":"sta', 30_000 * SLOWDOWN);
  t.equal(answer, '', 'no answer');
  const ms = Date.now() - t0;
  t.ok(ms >= 9_000 && ms < 25_000 * SLOWDOWN, `the agent hung up after ${ms} ms`);
});
