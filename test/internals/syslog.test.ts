// The syslog exporter's messages and its sink: RFC 5424 fields, escaping,
// octet counting; a bounded queue against a server that stops reading; a
// resend of what was not confirmed when the server drops the connection.
import t from 'tap';
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { frame, syslogMessage, SyslogExporter } from '../../exporters/syslog.js';
import { eventJson } from '../../exporters/json.js';
import type { TetragonEvent } from '../../exporters/tetragon.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const proc = { exec_id: 'e', pid: 9, uid: 0, cwd: '/', binary: '/bin/é', arguments: 'naïve 🚀', flags: '', start_time: 't', auid: 0, tid: 9, cap: {}, process_credentials: { uid: 0, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0 } };
const kprobe: TetragonEvent = {
  process_kprobe: { process: { ...proc, pod: { namespace: 'ns"x', name: 'pod]1' } }, function_name: 'f', args: [], action: 'KPROBE_ACTION_SIGKILL', policy_name: 'p\\q' },
  node_name: 'node 1', time: '2024-05-01T10:00:00.123456789Z',
};

t.test('an RFC 5424 message: PRI, header, structured data escaped, ASCII body', async (t) => {
  const msg = syslogMessage(kprobe, eventJson(kprobe), 16, 42);
  t.equal(msg.split(' [')[0], '<132>1 2024-05-01T10:00:00.123456Z node1 vigil 42 process_kprobe', 'local0.warning for a Sigkill; 6 digits of a second; no space in HOSTNAME');
  t.match(msg, / \[vigil@32473 type="process_kprobe" policy="p\\\\q" namespace="ns\\"x" pod="pod\\]1"\] \{/);
  t.ok(/^[\x20-\x7e]*$/.test(msg), 'plain ASCII');
  const body = msg.slice(msg.indexOf('] ') + 2);
  t.same(JSON.parse(body), JSON.parse(eventJson(kprobe)), 'the escaped JSON is the same event');
  const f = frame(msg);
  t.equal(f.toString().split(' ')[0], String(Buffer.byteLength(msg)), 'octet counting: the byte length, a space, the message');
});

async function server(onSocket: (s: Socket) => void): Promise<{ srv: Server; port: number }> {
  const srv = createServer(onSocket);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { srv, port: (srv.address() as AddressInfo).port };
}

const big = (i: number): TetragonEvent => ({ process_exec: { process: { ...proc, arguments: `${i} ${'x'.repeat(60_000)}` } }, node_name: 'n', time: '2024-05-01T10:00:00Z' });

t.test('a server that stops reading: memory stays bounded, the rest is counted dropped', async (t) => {
  const sockets: Socket[] = [];
  const { srv, port } = await server((s) => { s.pause(); sockets.push(s); });
  const ex = new SyslogExporter({ host: '127.0.0.1', port, format: eventJson, facility: 16, maxPendingBytes: 2 << 20 });
  t.teardown(() => { for (const s of sockets) s.destroy(); srv.close(); });
  await sleep(200);
  for (let i = 0; i < 400; i++) ex.write(big(i));
  await sleep(300);
  const s = ex.stats();
  t.ok(Number(s.dropped) > 0, `dropped ${s.dropped} of 400 events of 60 KB`);
  t.ok(Number(s.pending) * 60_000 <= 2.2 * (1 << 20), `at most the bound is held (${s.pending} events)`);
  t.equal(Number(s.written), 0, 'nothing confirmed: the server read nothing');
  await ex.close();
  t.equal(Number(ex.stats().dropped), 400, 'at close, what never got through is counted too: all 400');
});

t.test('the server drops the connection: what it had not confirmed is sent again', async (t) => {
  let received = '';
  let first = true;
  const { srv, port } = await server((s) => {
    s.setEncoding('latin1').on('data', (d: string) => (received += d));
    // The first connection takes a little and is closed: the agent must resend.
    if (first) {
      first = false;
      setTimeout(() => s.destroy(), 30);
    }
  });
  t.teardown(() => srv.close());
  const ex = new SyslogExporter({ host: '127.0.0.1', port, format: eventJson, facility: 16 });
  for (let i = 0; i < 200; i++) ex.write(big(i));
  const end = Date.now() + 20_000;
  while (Number(ex.stats().written) < 200 && Date.now() < end) await sleep(50);
  const s = ex.stats();
  await ex.close();
  t.equal(Number(s.written), 200, 'all confirmed in the end');
  t.ok(Number(s.reconnects) >= 1);
  const got = new Set([...received.matchAll(/"arguments":"(\d+) x/g)].map((m) => Number(m[1])));
  t.equal(got.size, 200, 'every event reached the server at least once');
  t.equal(Number(s.dropped), 0);
});
