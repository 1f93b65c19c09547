// Runs every benchmark scenario and regenerates docs/benchmarks.md with
// the command, the machine and the measured figures.
//
//   npm run bench            (node dist/benchmarks/run.js [--vm] [--k8s] [--only NAME[,NAME...]])
//
// With --only, the scenarios named run (their file names, e.g. exporters,
// comma-separated) and only their sections of docs/benchmarks.md are
// written again; the others keep the figures of their last run.
// With --vm, the open/close scenario also runs inside the stock kernel under
// qemu (test/vm/run.sh), for the kprobe path this machine's kernel lacks.
// qemu emulates the CPU there, and its figures vary from run to run by more
// than the effects measured, so they are left out of the default run.
// With --k8s, the scenarios on the Kubernetes test cluster (test/cluster/)
// run too, the cluster brought up if needed; without it, their sections keep
// the figures of their last run (npm run bench:k8s runs them alone).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = (name: string): string => fileURLToPath(new URL(`./${name}.js`, import.meta.url));
const DOC = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));

interface Scenario {
  name: string;
  file: string;
  args: string[];
  what: string;
  /** Run inside the stock kernel under qemu. */
  vm?: boolean;
  /** Runs against the Kubernetes test cluster: only with --k8s or --only. */
  cluster?: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'exec storm', file: 'exec-storm', args: ['--execs', '10000', '--rounds', '5'],
    what: 'Fork+exec of /bin/true from a shell loop, rounds alternating without and with `vigil run` (JSON export to a file).',
  },
  {
    name: 'posix_spawn exec storm', file: 'spawn-storm', args: ['--spawns', '3000', '--rounds', '3'],
    what: 'A C loop (benchmarks/workloads/spawn-storm.c) that posix_spawn()s /bin/true and waits for each, rounds alternating without and with `vigil run` '
      + 'on its defaults (JSON export to a file). `storm_execs_exported`: the loop\'s execs of /bin/true in the export files, warm-up spawns included. '
      + 'The `bpf_ns_per_run` figures are the kernel\'s run time of each process sensor program per run (`kernel.bpf_stats_enabled`, in a separate run); '
      + 'each runs once per spawn, and `runs_per_spawn` above 1 is the rest of the machine\'s processes meanwhile.',
  },
  {
    name: 'open/close under a file-monitoring policy', file: 'open-close', args: ['--opens', '500000', '--rounds', '9'],
    what: 'An open/close loop (benchmarks/workloads/open-close.c), rounds alternating: no monitoring; Vigil with a hook on a syscall the loop never makes (the floor), '
      + 'a sys_openat Prefix policy matching nothing, and one matching every open, each on the mechanism Vigil picks on this kernel and again on its fallback, the '
      + "syscall dispatcher (kprobes, fentry and syscall tracepoints disabled with `--disable-feature`); auditd with the equivalent openat rules. The `bpf_ns` figures are the kernel's run time of Vigil's "
      + 'BPF programs per open/close (`kernel.bpf_stats_enabled`, in separate runs).',
  },
  {
    name: 'the Prefix filter against a minimal BPF filter', file: 'minimal-filter', args: ['--opens', '200000', '--rounds', '5'],
    what: 'The least a sys_openat Prefix filter does, as a reference: kprobes/reference/minimal-filter.bpf.c, built by the benchmark, loaded through '
      + 'Vigil\'s libbpf binding and attached to syscalls/sys_enter_openat, reads the path, looks it up in an LPM trie and counts a match. '
      + 'Rounds alternate under the open/close loop: no filter, the minimal filter, `vigil run` with the equivalent Prefix policy; both hold the '
      + 'one prefix, which the loop never matches. `bpf_ns_per_call`: each program\'s kernel run time per call, with `kernel.bpf_stats_enabled` on '
      + 'throughout (so the per open/close times include the stats\' clock reads).',
  },
  {
    name: 'SubString against Prefix', file: 'substring-filter', args: ['--opens', '100000', '--rounds', '3'],
    what: 'sys_openat policies that match nothing, under the open/close loop on /etc/hostname (short) and on a path of about 1000 bytes (long), '
      + 'agents alternating by round: Prefix with one value; SubString with one value; SubString and SubStringIgnCase with 8 values of 32 bytes, '
      + 'each a near miss at every position of the long path (31 of its 32 bytes match), the worst case of the word compares. '
      + '`bpf_ns_per_call`: the hook program\'s kernel run time per call (`kernel.bpf_stats_enabled`). A SubString filter tries every position of '
      + 'the arg, so its cost grows with the arg\'s length and the number of values; hooks without one run none of it.',
  },
  {
    name: 'policies on one hook', file: 'policies-per-hook', args: ['--opens', '100000', '--rounds', '2'],
    what: '1, 10, 50 and 500 TracingPolicies in one agent, each a sys_openat Prefix policy on its own prefix that the open/close loop never matches, '
      + 'each count in rounds alternating with a run without the agent: the loop\'s cost per open/close over that baseline, the time the agent took '
      + 'to load them (from its process sensor attached to the end of its start\'s policy loads), its RSS once loaded, how many loaded, and why the others did not. '
      + 'The policies only report, so their hooks share programs: hook groups of at most 64 (README, "Many policies on one hook"); 500 make 8. '
      + '`bpf_ns_per_open_close`: the kernel\'s time in the hook programs per open/close (`kernel.bpf_stats_enabled`, in a run of its own with the same agent), '
      + 'steadier than the wall-clock figures on a shared machine.',
  },
  {
    name: 'exporters', file: 'exporters', args: ['--events', '50000', '--execs', '3000', '--rounds', '3'],
    what: 'Each output side by side: events per second and CPU per event through it in one process (50,000 pre-built process_exec events, '
      + 'rounds alternating between outputs), then `vigil run` with each output under an exec storm of /bin/true, agents alternating by round: '
      + 'its CPU seconds per 10,000 exported events (exec and exit), with no output as the floor. The syslog outputs send to a local TCP server '
      + 'in another process that reads and discards; a syslog event counts once the server\'s TCP acknowledged it. `file_json_filters` has an '
      + 'allowlist, a denylist and a field filter (and, in the agent, a redaction filter).',
  },
  {
    name: 'events per agent CPU-second', file: 'agent-throughput', args: ['--iterations', '3000', '--rounds', '3'],
    what: 'A mixed workload (benchmarks/workloads/spawn-storm.c: posix_spawn of /bin/true, then two open/close of a file in a directory that a '
      + 'sys_openat Prefix policy matches: exec, exit and kprobe events), agents alternating by round between the JSON export file, the same with a live '
      + '`vigil events -o json` subscriber, and no output (`--no-export-file`). Agent CPU is its utime+stime from before the workload until it is idle '
      + 'again; events are the lines added to the export file (with no output, the events the agent counted), the rest of the machine\'s included. '
      + '`export_file_us_per_event` and `subscriber_us_per_event`: the agent CPU each path adds per event.',
  },
  {
    name: 'memory with 10,000 live processes', file: 'process-cache-rss', args: ['--processes', '10000'],
    what: 'benchmarks/workloads/hold-processes.c keeps 10,000 processes alive, each its own exec with its own arguments. One agent on its defaults, '
      + 'idle after a fresh start (`idle`), then once the 10,000 exec\'d while it ran (`from_execs`: cached from their exec events); a second agent '
      + 'started while they live (`from_procfs`: read from /proc at its start, in batches of 256 with a turn of the event loop between); both once '
      + 'the processes are gone. Each reading is taken once the agent has been quiet for 20 s (V8\'s memory reducer collects the garbage of a burst after about 10 s without allocation). `rss` counts the node binary\'s pages (about 40 MiB) and '
      + 'the 16 MiB ring buffer, which the kernel maps twice (32 MiB); `anon` is the agent\'s own memory, `heap_used` its live JavaScript objects; '
      + '`cache_size` the process cache\'s entries, the machine\'s other processes included.',
  },
  {
    name: 'agent CPU by stage', file: 'agent-profile', args: ['--iterations', '10000', '--interval-us', '500'],
    what: 'The mixed workload of the previous scenario (10,000 iterations: exec, exit and two kprobe events each) under one `vigil run` exporting to '
      + 'the JSON file, run by `node --cpu-prof --cpu-prof-interval 500`. Only the samples taken while the workload runs and the agent catches up count. '
      + 'Each sample of the main thread goes to the stage of the innermost Vigil frame on its stack (Node\'s own functions count for the Vigil code that called them): '
      + '`ring_read_decode` agent/ringbuf, agent/decode and kernel/; `process_cache` agent/process (but clock.ts); `event_building` agent/enrich and the timestamps '
      + '(agent/process/clock.ts); `agent_dispatch` agent/agent.ts; `json_serialisation` exporters/json.ts; `export_write_path` the rest of exporters/; `gc` V8\'s '
      + '"(garbage collector)" on the main thread; `profile_busy` is the main thread\'s sampled time outside its wait. The sampler slows the agent: the '
      + 'thread figures beside (from /proc/<pid>/task) include the profiler\'s own thread, and only the shares and the µs per event of the stages compare between runs.',
  },
  {
    name: 'the per-event floor', file: 'pipeline-floor', args: ['--iterations', '20000', '--rounds', '5'],
    what: 'The agent\'s stages in one process without the kernel, the ring or the event loop: ring records laid out back to back in memory for the mix '
      + 'above (per iteration a clone, an exec, two sys_openat policy records and an exit: four events), each pass adding a stage: `decode` (agent/decode); '
      + '`events` the process cache and the event objects (agent/process, agent/enrich); `json` the JSON text (exporters/json.ts); `file` the JSON file exporter '
      + '(to a file in /tmp). Process CPU per event, every thread and GC included, the median of rounds alternating between passes. The full pass is the '
      + 'least an event costs in this design, before any ring read, wakeup or timer.',
  },
  {
    name: 'Kubernetes enrichment', file: 'k8s-enrich', args: ['--execs', '5000', '--rounds', '5', '--pods', '100', '--running', '5'], cluster: true,
    what: 'On the test cluster (test/cluster/, a real kubelet and containerd): /bin/true exec\'d by a shell loop inside a busybox pod\'s container '
      + '(through `ctr tasks exec`), rounds alternating between `vigil run --no-k8s` (the container ID in `docker` only) and `vigil run --kubeconfig` '
      + '(the agent\'s identity; Tetragon\'s `pod` on every event). The agent\'s events per CPU-second (every ring buffer record it handled, over all rounds) is its throughput with and without enrichment; '
      + 'the container\'s execs per second is the workload\'s pace beside it, and every exec of the storm is checked in the export file, with its pod. '
      + 'Then the agent\'s RSS and V8 heap, 10 s after each state: without Kubernetes; with the few running pods; with 100 Pod objects on the node '
      + '(6 running busybox pods and 94 Pod objects bound to the node with `spec.nodeName` that the kubelet rejects, OutOfmemory: they are listed and watched '
      + 'like any pod of the node, but no sandbox or container starts), added while the agent runs, and with the agent started after them.',
  },
  {
    name: 'the policy-filter race: a container\'s start to its pod in scope', file: 'scope-window', args: ['--pods', '10', '--burst', '5'], cluster: true,
    what: 'On the test cluster: `vigil run --kubeconfig` with a TracingPolicyNamespaced that kills a copy of `true`; each pod of its namespace runs the copy '
      + 'as its container\'s first command. Per pod, in ms from the container\'s first exec (its shell\'s exec event): `exec`, when the pod\'s first exec record '
      + '(its sandbox\'s) reached the agent, which puts a new pod cgroup in scope at once; `watch`, when the pod watch had the pod and a walk of the kubelet\'s '
      + 'cgroups found its cgroup (what the scope would wait for without exec records). The cgroup is in scope at the earlier; negative: before the container '
      + 'started. 10 pods one after another, then 5 at once. `first_command_killed`: pods whose first command died of SIGKILL.'
      + ' On this cluster the kubelet makes a pod\'s cgroup well before its containers start, and the watch, woken by the pod\'s status changes, usually has it first; the exec records are what holds when the watch is late (an API server slow or away): the sandbox\'s exec still comes before the containers\'. Not measured: a `containerSelector` scope, which waits for the container\'s ID in the pod\'s status, after the container started.',
  },
  {
    name: 'record decoding', file: 'ringbuf-decode', args: [],
    what: 'Exec records decoded per second from a buffer laid out as the ring holds them, and the cost of one koffi call.',
  },
  {
    name: 'open/close on the stock kernel, under qemu', file: 'open-close', args: ['--opens', '20000', '--rounds', '3', '--no-auditd'], vm: true,
    what: 'The open/close scenario inside Debian\'s stock 6.1 kernel (kprobes, fentry, BPF LSM), booted by test/vm/run.sh. qemu emulates the CPU '
      + '(TCG, one core), so every figure is much slower than on hardware and noisier; the ratios show the kprobe path and its order against the fallback.',
  },
];

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const js = (s: Scenario): string => `dist/benchmarks/${s.file}.js`;

function run(s: Scenario): Record<string, unknown> {
  const [cmd, args] = s.vm ? ['bash', ['test/vm/run.sh', 'node', js(s), ...s.args]] : [process.execPath, [here(s.file), ...s.args]];
  const out = execFileSync(cmd, args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out);
}

const withVm = process.argv.includes('--vm');
const withK8s = process.argv.includes('--k8s');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : undefined;
const lines = [
  '# Benchmarks',
  '',
  'Generated by `npm run bench` (`node dist/benchmarks/run.js`). Each scenario prints figures',
  'measured side by side in one run; ratios, not absolute times, are what carry over between machines.',
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node.js ${process.version}.`,
  '',
  ...(withVm ? [] : [
    'This kernel has no kprobes or fentry, so syscall hooks run on tracepoints, and every syscall takes the kernel\'s',
    'syscall tracing path once one is hooked. `npm run bench -- --vm` also runs the open/close scenario in the stock',
    'kernel under qemu, where kprobes attach only to the hooked function; qemu emulates the CPU there, and its figures',
    'vary from run to run by more than the effects measured.',
    '',
  ]),
  ...(withK8s ? [] : [
    'Scenarios on the Kubernetes test cluster run with `npm run bench -- --k8s`, or alone with `npm run bench:k8s`;',
    'without, their sections are those of their last run.',
    '',
  ]),
];
/** The sections of the last docs/benchmarks.md, by scenario name, for --only. */
function lastSections(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    if (line.startsWith('## ')) out.set(line.slice(3), (current = [line]));
    else current?.push(line);
  }
  return out;
}

const last = only || !withK8s ? lastSections() : new Map<string, string[]>();
for (const s of SCENARIOS) {
  if (s.vm && !withVm) continue;
  if ((only && !only.includes(s.file)) || (!only && s.cluster && !withK8s)) {
    if (last.has(s.name)) lines.push(...last.get(s.name)!);
    continue;
  }
  const cmd = `${s.vm ? 'npm run vm -- ' : ''}node ${js(s)} ${s.args.join(' ')}`.trim();
  process.stderr.write(`bench: ${cmd}\n`);
  const result = run(s);
  lines.push(`## ${s.name}`, '', s.what, '', `Command: \`${cmd}\``, '', '| measure | value |', '| --- | --- |');
  for (const [k, v] of Object.entries(result)) lines.push(`| ${k} | ${v} |`);
  lines.push('');
}
// Sections written by hand (no scenario's) stay, after the scenarios'.
const names = new Set(SCENARIOS.map((s) => s.name));
for (const [name, section] of lastSections()) if (!names.has(name)) lines.push(...section);
writeFileSync(DOC, `${lines.join('\n').replace(/\n+$/, '')}\n`);
process.stderr.write(`bench: wrote ${DOC}\n`);
