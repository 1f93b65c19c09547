// Exporters side by side in one run:
//  1. events per second and CPU per event through each output in this
//     process (pre-built process_exec events, fresh process objects, so no
//     cached JSON is reused), rounds alternating between outputs;
//  2. the agent's CPU per 10,000 exported events with each output, under
//     an exec storm of /bin/true, agents alternating by round.
// The syslog outputs send to a TCP server in a child process that reads
// and discards, so its CPU is not counted. Prints JSON.
//
//   node dist/benchmarks/exporters.js [--events N] [--execs N] [--rounds R]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Exporter } from '../exporters/exporter.js';
import { JsonFileExporter } from '../exporters/json-file.js';
import { SyslogExporter } from '../exporters/syslog.js';
import { RuledExporter, parseRules } from '../exporters/export-rules.js';
import { lineFormat } from '../exporters/formats.js';
import type { TetragonEvent, TetragonProcess } from '../exporters/tetragon.js';

const VIGIL = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
const TRUE = realpathSync('/bin/true');
const CLK_TCK = 100;
const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' }, execs: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '3' } } });
const EVENTS = Number(values.events);
const EXECS = Number(values.execs);
const ROUNDS = Number(values.rounds);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A child process that accepts TCP connections and discards what it reads. */
async function sink(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', "require('net').createServer((s)=>s.resume()).listen(0,'127.0.0.1',function(){console.log(this.address().port)})"], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  return { port, child };
}

function proc(i: number, binary: string, parentOf?: TetragonProcess): TetragonProcess {
  return {
    exec_id: Buffer.from(`bench-node:${1_000_000_000 + i}:${10_000 + i}`).toString('base64'), pid: 10_000 + i, uid: 0, cwd: '/home/bench/work',
    binary, arguments: `--config /etc/app/config.yaml --verbose --password=hunter${i} https://example.com/api/v1/items/${i}`, flags: 'execve clone',
    start_time: '2024-05-01T10:00:00.123456789Z', auid: 4294967295, parent_exec_id: parentOf?.exec_id, tid: 10_000 + i,
    cap: { permitted: ['CAP_CHOWN', 'DAC_OVERRIDE', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'], effective: ['CAP_CHOWN', 'CAP_NET_RAW'] },
    process_credentials: { uid: 0, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0 },
  };
}

function events(n: number): TetragonEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const parent = proc(i, '/usr/bin/bash');
    return { process_exec: { process: proc(i, '/usr/bin/curl', parent), parent }, node_name: 'bench-node', time: '2024-05-01T10:00:00.123456789Z' };
  });
}

interface Output { name: string; make: (dir: string, port: number) => Exporter; flags: (dir: string, port: number) => string[] }

const RULES = {
  allowlist: '{"event_set":["PROCESS_EXEC","PROCESS_EXIT"],"binary_regex":["^/usr/bin/","^/bin/"]}',
  denylist: '{"arguments_regex":["--health"]}',
  fieldFilters: '{"fields":"parent.cap,parent.process_credentials,process.cap","action":"EXCLUDE"}',
};
const REDACT = '{"redact":["--password(?:\\\\s+|=)(\\\\S*)"]}';
const file = (format: 'json' | 'ecs' | 'ocsf', extra = {}) => (dir: string): Exporter => new JsonFileExporter(join(dir, `e.${format}`), { format: lineFormat(format), ...extra });

const OUTPUTS: Output[] = [
  { name: 'file_json', make: file('json'), flags: (d) => ['--export-file', join(d, 'e.log'), '--export-file-max-size-mb', '0'] },
  { name: 'file_ecs', make: file('ecs'), flags: (d) => ['--export-file', join(d, 'e.log'), '--export-file-max-size-mb', '0', '--export-file-format', 'ecs'] },
  { name: 'file_ocsf', make: file('ocsf'), flags: (d) => ['--export-file', join(d, 'e.log'), '--export-file-max-size-mb', '0', '--export-file-format', 'ocsf'] },
  {
    name: 'file_json_rotated_gzip', make: file('json', { maxBytes: 10 << 20, compress: true, maxBackups: 5 }),
    flags: (d) => ['--export-file', join(d, 'e.log'), '--export-file-max-size-mb', '10', '--export-file-compress'],
  },
  {
    name: 'file_json_filters', make: (d) => new RuledExporter(file('json')(d), parseRules(RULES, { allowlist: 'a', denylist: 'd', fieldFilters: 'f' }, { ancestors: false })),
    flags: (d) => ['--export-file', join(d, 'e.log'), '--export-file-max-size-mb', '0', '--export-allowlist', RULES.allowlist, '--export-denylist', RULES.denylist,
      '--field-filters', RULES.fieldFilters, '--redaction-filters', REDACT],
  },
  {
    name: 'syslog_tcp_json', make: (_d, port) => new SyslogExporter({ host: '127.0.0.1', port, format: lineFormat('json'), facility: 16, maxPendingBytes: 1 << 30 }),
    flags: (_d, port) => ['--no-export-file', '--syslog-address', `tcp://127.0.0.1:${port}`],
  },
  {
    name: 'syslog_tcp_ecs', make: (_d, port) => new SyslogExporter({ host: '127.0.0.1', port, format: lineFormat('ecs'), facility: 16, maxPendingBytes: 1 << 30 }),
    flags: (_d, port) => ['--no-export-file', '--syslog-address', `tcp://127.0.0.1:${port}`, '--syslog-format', 'ecs'],
  },
];

/** One pass of the events through one output; seconds of wall time and of this process's CPU. */
async function pass(o: Output, evs: TetragonEvent[], port: number): Promise<{ wall: number; cpu: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-exp-'));
  const ex = o.make(dir, port);
  await sleep(100);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < evs.length; i++) {
    ex.write(evs[i]);
    if ((i & 1023) === 1023) await new Promise((r) => setImmediate(r));
  }
  if (o.name.startsWith('syslog')) while (Number(ex.stats().written) + Number(ex.stats().dropped) < evs.length) await sleep(2);
  await ex.close();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  if (Number(ex.stats().dropped)) throw new Error(`${o.name} dropped ${ex.stats().dropped} events`);
  rmSync(dir, { recursive: true, force: true });
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

async function agentRun(flags: string[]): Promise<{ cpu: number; events: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-agent-'));
  const socket = join(dir, 'sock');
  const child = spawn(process.execPath, [VIGIL, 'run', '--output', 'none', '--socket', socket, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  while (!err.includes('"msg":"ready"')) {
    if (child.exitCode !== null) throw new Error(`agent failed:\n${err}`);
    await sleep(50);
  }
  const status = () => JSON.parse(spawnSync(process.execPath, [VIGIL, 'status', '--json', '--socket', socket], { encoding: 'utf8' }).stdout);
  const cpu = (): number => {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  };
  const storm = (n: number): void => void spawnSync('/bin/sh', ['-c', `i=0; while [ $i -lt ${n} ]; do ${TRUE}; i=$((i+1)); done`], { stdio: 'ignore' });
  storm(300);
  await sleep(500);
  const e0 = status().events;
  const cpu0 = cpu();
  storm(EXECS);
  await sleep(1500);
  const e1 = status().events;
  const used = cpu() - cpu0;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return { cpu: used, events: (e1.process_exec - e0.process_exec) + (e1.process_exit - e0.process_exit) };
}

async function main(): Promise<void> {
  const { port, child } = await sink();
  const evs = events(EVENTS);
  const result: Record<string, number | string> = { events_per_pass: EVENTS, rounds: ROUNDS, execs_per_agent_round: EXECS };
  const walls = new Map<string, number[]>();
  const cpus = new Map<string, number[]>();
  await pass(OUTPUTS[0], evs.slice(0, 5000), port);
  for (let r = 0; r < ROUNDS; r++) {
    for (const o of OUTPUTS) {
      const { wall, cpu } = await pass(o, evs, port);
      walls.set(o.name, [...(walls.get(o.name) ?? []), wall]);
      cpus.set(o.name, [...(cpus.get(o.name) ?? []), cpu]);
    }
  }
  for (const o of OUTPUTS) {
    result[`${o.name}_events_per_s`] = Math.round(EVENTS / median(walls.get(o.name)!));
    result[`${o.name}_cpu_us_per_event`] = +((median(cpus.get(o.name)!) / EVENTS) * 1e6).toFixed(2);
  }
  // The agent end to end: CPU seconds per 10,000 exported events, with no output as the floor.
  const agents: Output[] = [{ name: 'none', make: () => { throw new Error('unused'); }, flags: () => ['--no-export-file'] }, ...OUTPUTS];
  const agentCpu = new Map<string, number[]>();
  for (let r = 0; r < Math.min(ROUNDS, 2); r++) {
    for (const o of agents) {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-out-'));
      const { cpu, events: n } = await agentRun(o.flags(dir, port));
      rmSync(dir, { recursive: true, force: true });
      agentCpu.set(o.name, [...(agentCpu.get(o.name) ?? []), (cpu / Math.max(n, 1)) * 10_000]);
    }
  }
  for (const o of agents) result[`agent_${o.name}_cpu_s_per_10k_events`] = +median(agentCpu.get(o.name)!).toFixed(3);
  child.kill();
  console.log(JSON.stringify(result, null, 2));
}

await main();
