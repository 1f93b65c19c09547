// --metrics-address: /metrics passes `promtool check metrics` (Debian's
// prometheus package; host-only: test/install.sh installs it), carries
// Tetragon's metric names, and its counters agree with `vigil status`;
// /healthz and /readyz answer.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { startAgent, runCommand, VIGIL, REPO } from './lib/agent.js';
import { freePort } from './lib/rsyslog.js';

const ECHO = realpathSync('/bin/echo');

type Samples = Map<string, number>;

/** Prometheus text: `name{labels} value` lines, keyed by name and sorted labels. */
function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

const sum = (s: Samples, name: string, match = ''): number =>
  [...s].filter(([k]) => (k === name || k.startsWith(`${name}{`)) && k.includes(match)).reduce((n, [, v]) => n + v, 0);

t.test('/metrics: promtool-clean, Tetragon\'s names, and the same counts as vigil status', async (t) => {
  const port = await freePort();
  const agent = await startAgent(['--metrics-address', `127.0.0.1:${port}`, '--policy', join(REPO, 'policies/library/network-connect.yaml')]);
  t.teardown(() => agent.stop());
  const base = `http://127.0.0.1:${port}`;
  t.equal((await fetch(`${base}/healthz`)).status, 200, '/healthz');
  t.equal((await fetch(`${base}/readyz`)).status, 200, '/readyz once ready');
  t.equal((await fetch(`${base}/nope`)).status, 404);

  for (let i = 0; i < 5; i++) await runCommand(ECHO, [`metrics-${i}`]);
  await new Promise<void>((r) => connect(port, '127.0.0.1').on('connect', function (this: import('node:net').Socket) { this.destroy(); r(); }).on('error', () => r()));
  await new Promise((r) => setTimeout(r, 1000));

  const status = (): Record<string, any> => JSON.parse(spawnSync(process.execPath, [VIGIL, 'status', '--json', '--socket', agent.socket], { encoding: 'utf8' }).stdout);
  const before = status();
  const text = await (await fetch(`${base}/metrics`)).text();
  const after = status();

  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.equal(check.status, 0, `promtool check metrics: ${(check.stdout + check.stderr).trim() || 'clean'}`);

  const s = parse(text);
  const between = (what: string, got: number, lo: number, hi: number): void => void t.ok(got >= lo && got <= hi, `${what}: ${got}, vigil status ${lo}..${hi}`);
  for (const [type, key] of [['PROCESS_EXEC', 'process_exec'], ['PROCESS_EXIT', 'process_exit'], ['PROCESS_KPROBE', 'process_kprobe']]) {
    between(`tetragon_events_total{type="${type}"}`, sum(s, 'tetragon_events_total', `type="${type}"`), before.events[key] ?? 0, after.events[key] ?? 0);
  }
  t.ok(sum(s, 'tetragon_events_total', `binary="${ECHO}"`) >= 10, 'labelled by binary: the echo execs and exits');
  t.ok(sum(s, 'tetragon_policy_events_total', 'policy="network-connect"') >= 1, 'policy events by policy and hook');
  between('tetragon_observer_ringbuf_events_received_total', sum(s, 'tetragon_observer_ringbuf_events_received_total'), before.ring_buffer.records, after.ring_buffer.records);
  between('tetragon_observer_ringbuf_events_lost_total', sum(s, 'tetragon_observer_ringbuf_events_lost_total'), before.lost_events, after.lost_events);
  for (const p of after.programs as { sensor: string; program: string; emitted: number; lost: number }[]) {
    const b = before.programs.find((x: { program: string }) => x.program === p.program) ?? { emitted: 0, lost: 0 };
    between(`vigil_bpf_emitted_events_total ${p.program}`, sum(s, 'vigil_bpf_emitted_events_total', `program="${p.program}"`), b.emitted, p.emitted);
    between(`tetragon_bpf_missed_events_total ${p.program}`, sum(s, 'tetragon_bpf_missed_events_total', `program="${p.program}"`), b.lost, p.lost);
  }
  const file = (x: Record<string, any>): Record<string, number> => x.exporters.find((e: { name: string }) => e.name === 'json-file');
  between('vigil_exporter_events_written_total{exporter="json-file"}', sum(s, 'vigil_exporter_events_written_total', 'exporter="json-file"'), file(before).written, file(after).written);
  t.equal(sum(s, 'vigil_exporter_events_dropped_total', 'exporter="json-file"'), file(after).dropped);
  t.equal(sum(s, 'tetragon_tracingpolicy_loaded', 'state="enabled"'), after.policies.filter((p: { state: string }) => p.state === 'loaded').length, 'policies by state');
  const cache = sum(s, 'tetragon_process_cache_size');
  t.ok(cache > 0 && Math.abs(cache - after.process_cache.size) <= Math.max(50, after.process_cache.size / 5), `tetragon_process_cache_size ${cache}, status ${after.process_cache.size}`);
  t.equal(sum(s, 'vigil_kubernetes_watch_state', 'state="disabled"'), 1, 'the Kubernetes watch state, for the pod enrichment to set');
  t.equal(sum(s, 'vigil_ready'), 1);
  t.ok(s.has('process_cpu_seconds_total') && s.has('process_resident_memory_bytes'), 'process metrics');
});

t.test('a bad --metrics-address stops the start with one line', async (t) => {
  const r = spawnSync(process.execPath, [VIGIL, 'run', '--metrics-address', 'nowhere', '--output', 'none', '--no-export-file', '--socket', '/tmp/vigil-metrics-bad.sock'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 1);
  t.match(r.stderr, /^vigil: VIGIL_USAGE: --metrics-address takes HOST:PORT or :PORT, got "nowhere"/m);
});
