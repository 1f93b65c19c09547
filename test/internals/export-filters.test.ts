// Tetragon's export filters, field filters, redaction filters and rate
// limit, field by field, on hand-made events.
import t from 'tap';
import { filterList, exportFilter, type EventPredicate } from '../../exporters/filters/event-filter.js';
import { labelSelector } from '../../exporters/filters/labels.js';
import { applyFieldFilters, fieldFilters } from '../../exporters/filters/field-filter.js';
import { redactionFilters, redactString } from '../../exporters/filters/redaction.js';
import { re2 } from '../../exporters/filters/re2.js';
import { jsonObjects } from '../../exporters/filters/json-lines.js';
import { RateLimiter } from '../../exporters/rate-limit.js';
import { RuledExporter } from '../../exporters/export-rules.js';
import type { Exporter } from '../../exporters/exporter.js';
import type { TetragonEvent, TetragonPod, TetragonProcess } from '../../exporters/tetragon.js';
import { validateTetragonLine } from '../lib/tetragon-schema.js';

const proc = (binary: string, args = '', extra: Partial<TetragonProcess> = {}): TetragonProcess => ({
  exec_id: 'e', pid: 100, uid: 0, cwd: '/', binary, arguments: args, flags: 'execve', start_time: '2024-01-01T00:00:00Z', auid: 0, tid: 100,
  cap: { permitted: ['CAP_CHOWN', 'CAP_NET_RAW'], effective: ['CAP_CHOWN'] },
  process_credentials: { uid: 0, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0 }, ...extra,
});
const POD: TetragonPod = { namespace: 'shop', name: 'cart-7d9', pod_labels: { app: 'cart', tier: 'web' }, container: { id: 'containerd://abc', maybe_exec_probe: true } };
const exec = (p: TetragonProcess, parent?: TetragonProcess, ancestors?: TetragonProcess[]): TetragonEvent =>
  ({ process_exec: { process: p, parent, ...(ancestors ? { ancestors } : {}) }, node_name: 'n', time: '2024-01-01T00:00:00Z' });
const exit = (p: TetragonProcess): TetragonEvent => ({ process_exit: { process: p, status: 0, time: 't' }, node_name: 'n', time: '2024-01-01T00:00:00Z' });
const kprobe = (p: TetragonProcess, policy: string): TetragonEvent =>
  ({ process_kprobe: { process: p, function_name: 'fd_install', args: [], action: 'KPROBE_ACTION_POST', policy_name: policy }, node_name: 'n', time: '2024-01-01T00:00:00Z' });
const lost: TetragonEvent = { vigil_lost: { lost: 3 }, node_name: 'n', time: 't' };

const one = (line: string, ancestors = false): EventPredicate => exportFilter(filterList(line, '--export-allowlist', { ancestors }), []);

t.test('lines are ORed, the fields of a line ANDed, the denylist wins', async (t) => {
  const curl = exec(proc('/usr/bin/curl'));
  const curlExit = exit(proc('/usr/bin/curl'));
  const wget = exec(proc('/usr/bin/wget'));
  const allow = filterList('{"event_set":["PROCESS_EXEC"],"binary_regex":["curl$"]}\n{"event_set":["PROCESS_KPROBE"]}', 'a', { ancestors: false });
  const f = exportFilter(allow, []);
  t.ok(f(curl));
  t.notOk(f(curlExit), 'AND: an exit of curl is not an exec');
  t.notOk(f(wget));
  t.ok(f(kprobe(proc('/x'), 'p')), 'OR: the second line');
  const both = exportFilter(allow, filterList('{"arguments_regex":["secret"]}', 'd', { ancestors: false }));
  t.notOk(both(exec(proc('/usr/bin/curl', 'http://x/secret'))), 'the denylist takes precedence');
  t.ok(exportFilter([], [])(wget), 'no list exports all');
  t.ok(one('{}')(wget), 'an empty filter matches every event');
});

t.test('each field as Tetragon reads it', async (t) => {
  const inPod = exec(proc('/bin/sh', '-c "curl x"', { pod: POD, docker: 'abc123' }), proc('/usr/bin/containerd-shim', '-id x'));
  const host = exec(proc('/bin/sh', '-c ls'), proc('/usr/lib/systemd/systemd'));
  const cases: [string, TetragonEvent, boolean][] = [
    ['{"binary_regex":["^/bin/sh$"]}', host, true],
    ['{"binary_regex":["sh$","curl"]}', exec(proc('/usr/bin/curl')), true],
    ['{"parent_binary_regex":["systemd$"]}', host, true],
    ['{"parent_binary_regex":["systemd$"]}', exec(proc('/bin/sh')), false],
    ['{"arguments_regex":["curl"]}', inPod, true],
    ['{"parent_arguments_regex":["^-id"]}', inPod, true],
    ['{"namespace":["shop"]}', inPod, true],
    ['{"namespace":["shop"]}', host, false],
    ['{"namespace":[""]}', host, true],
    ['{"namespace":[""]}', inPod, false],
    ['{"pod_regex":["^cart-"]}', inPod, true],
    ['{"pod_regex":[".*"]}', host, false],
    ['{"labels":["app=cart,tier in (web,api)"]}', inPod, true],
    ['{"labels":["app!=cart"]}', inPod, false],
    ['{"labels":["app"]}', host, false],
    ['{"container_id":["^abc"]}', inPod, true],
    ['{"health_check":true}', inPod, true],
    ['{"health_check":false}', inPod, false],
    ['{"health_check":false}', host, true],
    ['{"in_init_tree":false}', host, true],
    ['{"pid":[100]}', host, true],
    ['{"pid":[7]}', host, false],
    ['{"policy_names":["fim"]}', kprobe(proc('/bin/cat'), 'fim'), true],
    ['{"policy_names":["fim"]}', host, false],
    ['{"event_set":["PROCESS_EXIT"]}', exit(proc('/bin/ls')), true],
    ['{"event_set":[5]}', exit(proc('/bin/ls')), true],
    ['{"capabilities":{"effective":{"any":["CAP_CHOWN","CAP_SYS_ADMIN"]}}}', host, true],
    ['{"capabilities":{"permitted":{"all":["CAP_CHOWN","NET_RAW"]}}}', host, true],
    ['{"capabilities":{"permitted":{"exactly":["CAP_CHOWN"]}}}', host, false],
    ['{"capabilities":{"effective":{"none":["SYS_ADMIN"]},"permitted":{"any":["CAP_NET_RAW"]}}}', host, true],
    ['{"binary_regex":[".*"]}', lost, false],
  ];
  for (const [line, ev, want] of cases) t.equal(one(line)(ev), want, `${line} on ${ev.process_exec?.process.binary ?? Object.keys(ev)[0]}`);
  const anc = exec(proc('/bin/true'), proc('/bin/sh'), [proc('/usr/sbin/sshd')]);
  t.ok(one('{"event_set":["PROCESS_EXEC"],"ancestor_binary_regex":["sshd$"]}', true)(anc), 'ancestor_binary_regex');
});

t.test('what cannot be evaluated as written is refused, naming the flag, the line and the field', async (t) => {
  const bad: [string, RegExp][] = [
    ['{"binary_regexx":["x"]}', /--export-allowlist line 1: unknown field "binary_regexx"/],
    ['{"binary_regex":["(a"]}', /line 1\.binary_regex: "\(a" is not an RE2 regular expression/],
    ['{"binary_regex":["(a)\\\\1"]}', /not an RE2 regular expression/],
    ['{}\n{"cel_expression":["true"]}', /line 2\.cel_expression: CEL expressions are not supported/],
    ['{"pid_set":[1]}', /pid_set.*not supported/],
    ['{"event_set":["PROCESS_EXECC"]}', /unknown event type "PROCESS_EXECC"/],
    ['{"ancestor_binary_regex":["x"]}', /ancestors are only in the event types --enable-ancestors names/],
    ['{"capabilities":{"effective":{"any":["CAP_X"]}}}', /unknown capability "CAP_X"/],
    ['{"capabilities":{"effective":{"any":["CHOWN"],"none":["CHOWN"]}}}', /exactly one match set/],
    ['{"labels":["app in (a"]}', /label selector/],
    ['{"a":1} x', /expected one JSON object a line/],
  ];
  for (const [line, re] of bad) t.throws(() => filterList(line, '--export-allowlist', { ancestors: false }), re, line);
});

t.test('label selectors', async (t) => {
  const l = { app: 'cart', 'app.kubernetes.io/name': 'cart', tier: 'web', replicas: '3' };
  t.ok(labelSelector('app.kubernetes.io/name==cart', 'x')(l));
  t.ok(labelSelector('tier notin (db), !missing, replicas>2', 'x')(l));
  t.notOk(labelSelector('replicas<2', 'x')(l));
  t.ok(labelSelector('missing!=x', 'x')(l), '!= holds for an absent label');
  t.ok(labelSelector('', 'x')(l), 'the empty selector selects all');
});

t.test('field filters: include, exclude, event sets, in order; node_name and time stay', async (t) => {
  const ev = exec(proc('/bin/ls', '-l'), proc('/bin/sh'));
  const inc = fieldFilters('{"fields":"process.binary,parent.binary","action":"INCLUDE"}', 'f');
  t.same(applyFieldFilters(inc, ev), { process_exec: { process: { binary: '/bin/ls' }, parent: { binary: '/bin/sh' } }, node_name: 'n', time: ev.time });
  const exc = fieldFilters('{"fields":"parent,process.cap,process.processCredentials","action":"EXCLUDE","event_set":["PROCESS_EXEC"]}', 'f');
  const out = applyFieldFilters(exc, ev).process_exec!;
  t.notOk('parent' in out);
  t.notOk('cap' in out.process || 'process_credentials' in out.process, 'lowerCamel paths name snake_case fields');
  t.equal(out.process.binary, '/bin/ls');
  t.equal(applyFieldFilters(exc, exit(proc('/bin/ls'))).process_exit!.process.cap?.effective![0], 'CAP_CHOWN', 'other types untouched');
  const inv = fieldFilters('{"fields":"process.exec_id,process.parent_exec_id","event_set":["PROCESS_EXEC"],"invert_event_set":true,"action":"INCLUDE"}', 'f');
  t.same(applyFieldFilters(inv, exit(proc('/bin/ls'))).process_exit, { process: { exec_id: 'e' } }, "Tetragon's documented example");
  t.equal(applyFieldFilters(inv, ev), ev, 'the inverted set leaves exec alone');
  const args = fieldFilters('{"fields":"args.file_arg.path,policy_name"}', 'f');
  const k = { ...kprobe(proc('/bin/cat'), 'fim') };
  k.process_kprobe!.args = [{ file_arg: { path: '/etc/shadow', flags: '' } }, { int_arg: 1 }];
  t.same(applyFieldFilters(args, k).process_kprobe, { args: [{ file_arg: { path: '/etc/shadow' } }, {}], policy_name: 'fim' }, 'a path through a list applies to each element');
  t.throws(() => fieldFilters('{"fields":"process.binary","action":"DROP"}', '--field-filters'), /--field-filters line 1\.action: INCLUDE or EXCLUDE/);
});

t.test('redaction: only capture groups become *****, binary_regex limits it', async (t) => {
  const r = redactionFilters('{"redact":["--password(?:\\\\s+|=)(\\\\S*)"]}\n{"binary_regex":["(?:^|/)foo$"],"redact":["-p(?:\\\\s+|=)(\\\\S*)"]}', '--redaction-filters')!;
  t.equal(r('/usr/bin/mysql', '-u root --password=hunter2 -h db'), '-u root --password=***** -h db', "Tetragon's documented example");
  t.equal(r('/usr/bin/mysql', '--password a --password b'), '--password ***** --password *****', 'every match');
  t.equal(r('/opt/foo', '-p s3cret'), '-p *****', 'the binary-limited filter applies to foo');
  t.equal(r('/opt/bar', '-p s3cret'), '-p s3cret', '…and not to bar');
  t.equal(redactString(re2('password=\\S+', 'x'), 'password=x'), 'password=x', 'a regex without a group redacts nothing');
  t.equal(redactString(re2('key=((\\w+)-(\\w+))', 'x'), 'key=ab-cd z'), 'key=***** z', 'a group inside a redacted group is skipped');
  t.equal(redactString(re2('a(x)?b', 'x'), 'ab axb'), 'ab a*****b', 'an unmatched group is skipped');
  t.throws(() => redactionFilters('{"match":[{}],"redact":["(x)"]}', '--redaction-filters'), /match: deprecated/);
});

t.test('rate limit: a minute of tokens, refilled evenly', async (t) => {
  let now = 0;
  const l = new RateLimiter(60, () => now);
  let n = 0;
  for (let i = 0; i < 100; i++) if (l.take()) n++;
  t.equal(n, 60, 'the bucket starts full');
  now += 1000;
  t.ok(l.take(), 'one more after a second');
  t.notOk(l.take());
  t.notOk(new RateLimiter(0, () => now).take(), '0 exports nothing');
});

t.test('the rules in front of an output: rate_limit_info reports the drops, loss reports pass every rule', async (t) => {
  const got: TetragonEvent[] = [];
  const sink: Exporter = { name: 'sink', write: (ev) => void got.push(ev), close: async () => undefined, stats: () => ({ written: got.length, dropped: 0 }) };
  const ruled = new RuledExporter(sink, { filter: one('{"binary_regex":["ls$"]}'), ratePerMinute: 2 }, 50);
  for (let i = 0; i < 5; i++) ruled.write(exec(proc('/bin/ls')));
  ruled.write(exec(proc('/bin/cat')));
  ruled.write(lost);
  await new Promise((r) => setTimeout(r, 120));
  await ruled.close();
  t.equal(got.filter((e) => e.process_exec).length, 2);
  t.ok(got.includes(lost), 'vigil_lost passes the filter and the limit');
  const info = got.filter((e) => e.rate_limit_info);
  t.same(info.map((e) => e.rate_limit_info), [{ number_of_dropped_process_events: '3' }]);
  t.same(validateTetragonLine(JSON.stringify(info[0])), [], 'rate_limit_info is a Tetragon event line');
  t.match(ruled.stats(), { name: undefined, written: 4, dropped: 0, filtered: 1, rate_limited: 3 });
});

t.test('JSON lines: objects one after another, whitespace between', async (t) => {
  t.same(jsonObjects(' {"a":"}{"}\n\n{"b":[1,{"c":2}]} ', 'f'), [{ a: '}{' }, { b: [1, { c: 2 }] }]);
  t.throws(() => jsonObjects('{"a":1', 'f'), /not closed/);
  t.throws(() => jsonObjects('[1]', 'f'), /not a JSON object/);
});
