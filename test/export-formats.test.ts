// The agent writing ECS and OCSF beside Tetragon JSON, from real events:
// an exec and an exit, a policy event with a file argument (close of a
// file, its fd resolved in the kernel) and a connect(2) policy event.
// Every document passes the ECS field reference or its OCSF class.
// Kernel-independent: ECS and OCSF built in user space from the events any kernel delivers.
import t from 'tap';
import { createServer, connect, type AddressInfo } from 'node:net';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { createLogger } from '../agent/log.js';
import { JsonFileExporter } from '../exporters/json-file.js';
import { lineFormat } from '../exporters/formats.js';
import { runCommand, pollFor } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { selector, suiteFeatures, syscallPlan } from './lib/policy-agent.js';
import { fileLines, tetragonLineErrors } from './lib/export-lines.js';
import { ecsErrors } from './lib/ecs-fields.js';
import { ocsfErrors } from './lib/ocsf-classes.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const CAT = realpathSync('/bin/cat');
const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);
type Doc = Record<string, any>;

t.test('ECS and OCSF documents of exec, exit, file and network events', { skip }, async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-formats-')));
  const files = { json: join(dir, 'events.json'), ecs: join(dir, 'events.ecs'), ocsf: join(dir, 'events.ocsf') };
  const agent = new Agent({
    nodeName: 'vigil-test', ancestors: false, socketPath: join(dir, 'vigil.sock'), ringBytes: 4 << 20,
    log: createLogger(process.env.VIGIL_LOG_LEVEL ?? 'warn'), features: suiteFeatures(),
    exporters: (['json', 'ecs', 'ocsf'] as const).map((f) => new JsonFileExporter(files[f], { format: lineFormat(f) })),
  });
  await agent.start();
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const server = createServer((c) => c.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const secret = join(dir, 'watched.txt');
  writeFileSync(secret, 'x\n');
  agent.loadHook(syscallPlan('sys_close', [{ index: 0, type: 'fd' }], [selector({
    matchArgs: [{ index: 0, operator: 'Equal', values: [secret] }], matchBinaries: [{ operator: 'In', values: [CAT] }],
  })], 'formats-file'));
  // A sockaddr has one address and port, matched with SPort, as in Tetragon.
  agent.loadHook(syscallPlan('sys_connect', [{ index: 0, type: 'int', label: 'fd' }, { index: 1, type: 'sockaddr' }],
    [selector({ matchArgs: [{ index: 1, operator: 'SPort', values: [String(port)] }] })], 'formats-connect'));

  const r = await runCommand(CAT, [secret]);
  await new Promise<void>((resolve) => connect(port, '127.0.0.1').on('close', () => resolve()).on('error', () => resolve()));
  const json = (): TetragonEvent[] => fileLines(files.json).map((l) => JSON.parse(l));
  await pollFor(json, (e) => e.process_exit?.process.pid === r.pid, 'the exit of cat');
  await pollFor(json, (e) => e.process_kprobe?.policy_name === 'formats-connect', 'the connect');
  stopped = true;
  await agent.stop();

  t.same(fileLines(files.json).flatMap(tetragonLineErrors), [], 'the JSON file: Tetragon event lines');
  const ecs = fileLines(files.ecs).map((l) => JSON.parse(l) as Doc);
  const ocsf = fileLines(files.ocsf).map((l) => JSON.parse(l) as Doc);
  t.equal(ecs.length, fileLines(files.json).length, 'one ECS document an event');
  t.equal(ocsf.length, ecs.length, 'one OCSF document an event');
  const ecsBad = ecs.flatMap((d) => ecsErrors(d).map((e) => `${d.event.dataset}: ${e}`));
  t.same([...new Set(ecsBad)], [], 'every ECS document: ECS fields of ECS types');
  const ocsfBad = ocsf.flatMap((d) => ocsfErrors(d).map((e) => `${d.class_uid}: ${e}`));
  t.same([...new Set(ocsfBad)], [], 'every OCSF document: its class\'s required attributes');

  const ecsExec = ecs.find((d) => d.event.action === 'exec' && d.process.pid === r.pid);
  t.match(ecsExec, { event: { category: ['process'], type: ['start'] }, process: { executable: CAT, args: [CAT, secret], parent: { pid: process.pid } }, host: { name: 'vigil-test' } });
  t.match(ecs.find((d) => d.event.action === 'exit' && d.process.pid === r.pid), { event: { type: ['end'] }, process: { exit_code: 0 } });
  t.match(ecs.find((d) => d.rule?.name === 'formats-file'), { event: { kind: 'alert', category: ['file'] }, file: { path: secret, name: 'watched.txt', directory: dir }, process: { pid: r.pid } });
  t.match(ecs.find((d) => d.rule?.name === 'formats-connect'), { event: { category: ['network'], type: ['connection', 'start'] }, destination: { ip: '127.0.0.1', port }, process: { pid: process.pid } });

  t.match(ocsf.find((d) => d.class_uid === 1007 && d.activity_id === 1 && d.process.pid === r.pid), { type_uid: 100701, process: { file: { path: CAT } }, actor: { process: { pid: process.pid } }, device: { hostname: 'vigil-test' } });
  t.match(ocsf.find((d) => d.class_uid === 1007 && d.activity_id === 2 && d.process.pid === r.pid), { exit_code: 0 });
  t.match(ocsf.find((d) => d.unmapped?.policy_name === 'formats-file'), { class_uid: 1001, category_uid: 1, file: { path: secret, name: 'watched.txt' }, actor: { process: { pid: r.pid } } });
  t.match(ocsf.find((d) => d.unmapped?.policy_name === 'formats-connect'), { class_uid: 4001, activity_id: 1, dst_endpoint: { ip: '127.0.0.1', port }, connection_info: { direction_id: 2 } });
});
