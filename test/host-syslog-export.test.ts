// Events to a real rsyslog (Debian's rsyslogd, imtcp; gtls for TLS),
// started by the test on a private port: RFC 5424 messages, octet-counted,
// every event received and framed as rsyslog parses it; rsyslog stopped
// and started again: what happened while it was down is delivered after
// the reconnect or counted as dropped, never silently lost. Host-only:
// it runs the host's rsyslogd (test/install.sh installs it).
import t from 'tap';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, runCommand, NODE_NAME, type AgentHandle } from './lib/agent.js';
import { Rsyslog, freePort, makeCertificates, type Received } from './lib/rsyslog.js';
import { tetragonLineErrors } from './lib/export-lines.js';
import { ecsErrors } from './lib/ecs-fields.js';
import { request } from '../agent/control/client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ECHO = realpathSync('/bin/echo');

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function syslogStats(agent: AgentHandle): Promise<Record<string, number | string>> {
  let line = '';
  await request(agent.socket, { op: 'status' }, (l) => (line = l));
  return (JSON.parse(line).exporters as Record<string, number | string>[]).find((e) => e.name === 'syslog')!;
}

/** The markers of echo execs rsyslog received, by the message's arguments. */
const markers = (got: Received[], prefix: string): Set<string> => new Set(got.map((r) => {
  const ev = JSON.parse(r.msg);
  const args: string | undefined = ev.process_exec?.process?.arguments ?? ev.process?.args?.slice(1).join(' ');
  return args?.startsWith(prefix) ? args : undefined;
}).filter((a): a is string => a !== undefined));

async function echoes(prefix: string, n: number): Promise<string[]> {
  const all = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  for (const m of all) await runCommand(ECHO, [m]);
  return all;
}

t.test('TCP: every event arrives as an RFC 5424 message, octet-counted; rsyslog stopped and started again loses nothing silently', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rsyslog-'));
  const rsyslog = new Rsyslog(dir, await freePort());
  await rsyslog.start();
  const agent = await startAgent(['--syslog-address', `tcp://127.0.0.1:${rsyslog.port}`, '--syslog-facility', 'local3']);
  t.teardown(async () => { await agent.stop(); await rsyslog.stop(); rmSync(dir, { recursive: true, force: true }); });

  const a = await echoes(`syslog-a-${Date.now()}-`, 20);
  await until('the first markers in rsyslog', () => a.every((m) => markers(rsyslog.received(), 'syslog-a-').has(m)));
  const got = rsyslog.received();
  const exec = got.find((r) => r.msg.includes(`"arguments":"${a[0]}"`))!;
  t.equal(exec.pri, 19 * 8 + 6, 'PRI: local3.info');
  t.equal(exec.hostname, NODE_NAME);
  t.equal(exec.app, 'vigil');
  t.equal(exec.procid, String(agent.child.pid));
  t.equal(exec.msgid, 'process_exec');
  t.equal(exec.sd, '[vigil@32473 type="process_exec"]', 'structured data: the event type');
  t.match(exec.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|\+00:00)$/, 'the event time, to the microsecond');
  t.same(got.flatMap((r) => tetragonLineErrors(r.msg)), [], 'every message is one whole Tetragon event line: the framing held');
  t.ok(got.every((r) => r.msgid === Object.keys(JSON.parse(r.msg))[0]), 'MSGID is the event type of each');

  await rsyslog.stop();
  const b = await echoes(`syslog-b-${Date.now()}-`, 20);
  await until('the agent to see rsyslog gone', async () => Number((await syslogStats(agent)).connected) === 0, 30_000);
  t.match(agent.stderr(), /connection lost; events wait and are resent/);
  await rsyslog.start();
  const c = await echoes(`syslog-c-${Date.now()}-`, 20);
  await until('the last markers in rsyslog', () => c.every((m) => markers(rsyslog.received(), 'syslog-c-').has(m)), 90_000);
  const seenB = markers(rsyslog.received(), 'syslog-b-');
  const stats = await syslogStats(agent);
  const missing = b.filter((m) => !seenB.has(m));
  t.ok(Number(stats.reconnects) >= 1, `reconnected (${stats.reconnects} tries)`);
  t.ok(missing.length <= Number(stats.dropped), `events while rsyslog was down: ${b.length - missing.length} delivered after the reconnect, ${missing.length} missing, ${stats.dropped} counted dropped`);
  t.equal(Number(stats.connected), 1);
  t.same(rsyslog.received().flatMap((r) => tetragonLineErrors(r.msg)), [], 'after the reconnect too, whole events only');
});

t.test('TLS with certificates, ECS messages, and a CA that does not match', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rsyslog-tls-'));
  const certs = makeCertificates(dir);
  const rsyslog = new Rsyslog(dir, await freePort(), certs);
  await rsyslog.start();
  const agent = await startAgent(['--syslog-address', `tls://127.0.0.1:${rsyslog.port}`, '--syslog-tls-ca', certs.ca, '--syslog-format', 'ecs']);
  t.teardown(async () => { await agent.stop(); await rsyslog.stop(); rmSync(dir, { recursive: true, force: true }); });
  const m = await echoes(`syslog-tls-${Date.now()}-`, 10);
  await until('the markers over TLS', () => m.every((x) => markers(rsyslog.received(), 'syslog-tls-').has(x)));
  const got = rsyslog.received();
  t.same([...new Set(got.flatMap((r) => ecsErrors(JSON.parse(r.msg))))], [], 'every message is an ECS document');
  t.match(JSON.parse(got.find((r) => r.msg.includes(m[0]))!.msg), { event: { action: 'exec' }, host: { name: NODE_NAME } });

  // A server whose certificate this CA did not sign is never sent an event.
  const other = makeCertificates(mkdtempSync(join(dir, 'other-')));
  const wrong = await startAgent(['--syslog-address', `tls://127.0.0.1:${rsyslog.port}`, '--syslog-tls-ca', other.ca]);
  t.teardown(() => wrong.stop());
  await until('the TLS failure', () => /connection lost/.test(wrong.stderr()), 30_000);
  t.match(wrong.stderr(), /certificate|self.signed|unable to verify/i, 'the log says the certificate did not verify');
  t.equal(Number((await syslogStats(wrong)).connected), 0);
});
