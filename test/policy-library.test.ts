// The bundled policy library (policies/library/), each policy loaded by a
// real agent the way an operator would (`vigil run --policy FILE`), with
// real processes triggering it and the kernel's verdict checked.
import t from 'tap';
import { copyFileSync, chmodSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { connectTuple, listen, tryConnect, type Tuple } from './lib/net.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startAgent, runCommand, REPO, VIGIL, type AgentHandle } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import type { TetragonEvent } from '../exporters/tetragon.js';
import type { PolicyState } from '../agent/policy/manager.js';

const LIB = join(REPO, 'policies/library');
const CAT = realpathSync('/bin/cat');
const ECHO = realpathSync('/bin/echo');
const PERL = realpathSync('/usr/bin/perl');

async function withPolicy(file: string, fn: (agent: AgentHandle) => Promise<void>): Promise<PolicyState[]> {
  const agent = await startAgent(['--policy', file]);
  try {
    const r = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', agent.socket]);
    const states = JSON.parse(r.stdout) as PolicyState[];
    if (states.every((s) => s.state === 'loaded')) await fn(agent);
    return states;
  } finally {
    await agent.stop();
  }
}

const binaryOf = (ev: TetragonEvent): string | undefined => (ev.process_kprobe?.process as { binary?: string } | undefined)?.binary;
const kprobeOf = (policy: string, binary: string) => (ev: TetragonEvent) =>
  ev.process_kprobe?.policy_name === policy && binaryOf(ev) === binary;

t.test('file-integrity: opening /etc/shadow is reported, other files are not', { skip: await lacking(['tracepoints']) }, async (t) => {
  const states = await withPolicy(join(LIB, 'default/file-integrity.yaml'), async (agent) => {
    const other = await runCommand(CAT, ['/etc/hostname']);
    const shadow = await runCommand(CAT, ['/etc/shadow']);
    t.equal(shadow.code, 0);
    const ev = (await agent.waitFor(kprobeOf('file-integrity', CAT), 'shadow open')).process_kprobe!;
    t.equal(ev.process.pid, shadow.pid);
    t.match(JSON.stringify(ev.args), /"\/etc\/shadow"/);
    t.equal(ev.message, 'sensitive file opened');
    t.same(ev.tags, ['file-integrity', 'credentials']);
    t.notOk(agent.events().some((e) => e.process_kprobe?.process.pid === other.pid), 'no event for /etc/hostname');
  });
  t.equal(states[0].state, 'loaded', JSON.stringify(states[0].errors));
});

t.test('privilege-escalation: setuid(0) is reported, setuid to another user is not', { skip: await lacking(['tracepoints']) }, async (t) => {
  const states = await withPolicy(join(LIB, 'default/privilege-escalation.yaml'), async (agent) => {
    const drop = await runCommand(PERL, ['-MPOSIX', '-e', 'POSIX::setuid(65534) or die']);
    const root = await runCommand(PERL, ['-MPOSIX', '-e', 'POSIX::setuid(0) or die']);
    t.equal(root.code, 0);
    const ev = (await agent.waitFor((e) => e.process_kprobe?.process.pid === root.pid, 'setuid(0)')).process_kprobe!;
    t.equal(ev.policy_name, 'privilege-escalation');
    t.equal(ev.message, 'setuid to root');
    t.notOk(agent.events().some((e) => e.process_kprobe?.process.pid === drop.pid && e.process_kprobe.message === 'setuid to root'));
  });
  t.equal(states[0].state, 'loaded', JSON.stringify(states[0].errors));
});

t.test('kernel-integrity: loading a BPF program is reported', { skip: await lacking(['tracepoints']) }, async (t) => {
  const states = await withPolicy(join(LIB, 'default/kernel-integrity.yaml'), async (agent) => {
    const r = spawnSync('bpftool', ['feature', 'probe', 'kernel', 'macros'], { stdio: 'ignore' });
    t.equal(r.status, 0);
    const ev = (await agent.waitFor((e) => e.process_kprobe?.policy_name === 'kernel-integrity' && /bpftool$/.test(binaryOf(e) ?? ''), 'BPF_PROG_LOAD by bpftool')).process_kprobe!;
    t.equal(ev.message, 'BPF program loaded');
  });
  t.equal(states[0].state, 'loaded');
  t.ok(states[0].hooks.find((h) => h.path === 'spec.kprobes[2]')?.state === 'loaded', 'the bpf() hook is loaded');
});

t.test('commit-creds: exec of a setuid-root binary by an unprivileged user gains capabilities and is reported; dropping them is not', { skip: await lacking(['kprobes', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const SETPRIV = realpathSync('/usr/bin/setpriv');
  const MOUNT = realpathSync('/usr/bin/mount');
  const TRUE = realpathSync('/bin/true');
  const SH = realpathSync('/bin/sh');
  // setpriv keeps its capabilities across the uid change (keep-caps); the exec of sh drops them.
  const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups', SH, '-c'];
  const states = await withPolicy(join(LIB, 'commit-creds.yaml'), async (agent) => {
    const drop = await runCommand(SETPRIV, [...nobody, `exec ${TRUE}`]);
    t.equal(drop.code, 0, 'setpriv drops to nobody and runs true');
    const gain = await runCommand(SETPRIV, [...nobody, `exec ${MOUNT} --version`]);
    t.equal(gain.code, 0, 'nobody runs the setuid-root mount');
    const ev = (await agent.waitFor((e) => e.process_kprobe?.policy_name === 'commit-creds' && e.process_kprobe.process.pid === gain.pid, 'the setuid exec')).process_kprobe!;
    t.equal(ev.function_name, 'commit_creds');
    t.equal(ev.message, 'credentials gained capabilities');
    const cred = ev.args[0].process_credentials_arg!;
    t.equal(ev.args[0].label, 'new');
    t.match(cred, { uid: 65534, euid: 0, suid: 0, fsuid: 0, gid: 65534, user_ns: { level: 0, ns: { is_host: true } } });
    t.ok(cred.caps.permitted?.includes('CAP_SYS_ADMIN'), 'the new permitted set has CAP_SYS_ADMIN');
    await agent.waitFor((e) => e.process_exit?.process.pid === gain.pid, 'exit of mount');
    t.notOk(agent.events().some((e) => e.process_kprobe?.policy_name === 'commit-creds' && e.process_kprobe.process.pid === drop.pid), 'no event for dropping to nobody');
  });
  t.equal(states[0].state, 'loaded', JSON.stringify(states[0].errors));
});

t.test('exec-from-tmp-kill: a binary run from /tmp dies of SIGKILL before printing', { skip: await lacking(['tracepoints', 'bpf_send_signal']) }, async (t) => {
  const dir = mkdtempSync('/tmp/vigil-exec-');
  const victim = join(dir, 'echo');
  copyFileSync(ECHO, victim);
  chmodSync(victim, 0o755);
  const states = await withPolicy(join(LIB, 'exec-from-tmp-kill.yaml'), async () => {
    const r = await runCommand(victim, ['must-not-appear']);
    t.equal(r.signal, 'SIGKILL');
    t.equal(r.stdout, '', 'the binary never ran');
    const ok = await runCommand(ECHO, ['fine']);
    t.equal(ok.stdout, 'fine\n', 'binaries elsewhere run');
  });
  t.equal(states[0].state, 'loaded', JSON.stringify(states[0].errors));
  t.equal(states[0].hooks[0].enforcement, 'sigkill');
});

t.test('exec-from-tmp-deny: BPF LSM refuses the exec itself', { skip: await lacking(['bpf_lsm']) }, async (t) => {
  const dir = mkdtempSync('/tmp/vigil-exec-');
  const victim = join(dir, 'echo');
  copyFileSync(ECHO, victim);
  chmodSync(victim, 0o755);
  const states = await withPolicy(join(LIB, 'exec-from-tmp-deny.yaml'), async () => {
    const r = spawnSync(victim, ['must-not-appear'], { encoding: 'utf8' });
    t.equal((r.error as NodeJS.ErrnoException | undefined)?.code, 'EPERM', 'execve fails with EPERM');
    t.equal(spawnSync(ECHO, ['fine'], { encoding: 'utf8' }).stdout, 'fine\n');
  });
  t.equal(states[0].state, 'loaded', JSON.stringify(states[0].errors));
});

t.test('deny-egress-cidr: a connect to the denied network fails with EPERM, and is reported', { skip: await lacking(['cgroup_hooks']) }, async (t) => {
  // The library's CIDR, pointed at a loopback address for the test.
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lib-'));
  const file = join(dir, 'deny-egress-cidr.yaml');
  writeFileSync(file, readFileSync(join(LIB, 'deny-egress-cidr.yaml'), 'utf8').replace('192.0.2.0/24', '127.0.0.2/32'));
  const server: Server = createServer((c) => c.end());
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const states = await withPolicy(file, async (agent) => {
    t.equal(await tryConnect('127.0.0.2', port), 'EPERM');
    t.equal(await tryConnect('127.0.0.1', port), 'connected');
    const ev = (await agent.waitFor((e) => e.process_kprobe?.policy_name === 'deny-egress-cidr', 'the denial event')).process_kprobe!;
    t.equal(ev.function_name, 'tcp_connect');
    t.equal(ev.action, 'KPROBE_ACTION_OVERRIDE');
    t.match(ev.args[0].sock_arg, { family: 'AF_INET', protocol: 'IPPROTO_TCP', daddr: '127.0.0.2', dport: port });
    t.equal(ev.process.pid, process.pid, 'the process whose connect was denied');
    t.equal(ev.message, 'egress to a denied network');
    t.same(ev.tags, ['network', 'enforcement']);
    t.equal(agent.events().filter((e) => e.process_kprobe?.policy_name === 'deny-egress-cidr').length, 1, 'the allowed connect is not reported');
  });
  t.equal(states[0].state, 'loaded', JSON.stringify(states[0].errors));
});

t.test('network-connect: connect(2) is reported with its destination, IPv4 and IPv6', { skip: await lacking(['tracepoints']) }, async (t) => {
  const v4 = await listen('127.0.0.1');
  const v6 = await listen('::1');
  t.teardown(() => { v4.server.close(); v6.server.close(); });
  const states = await withPolicy(join(LIB, 'network-connect.yaml'), async (agent) => {
    for (const [host, port, family] of [['127.0.0.1', v4.port, 'AF_INET'], ['::1', v6.port, 'AF_INET6']] as const) {
      t.type(await connectTuple(host, port), 'object', `connected to ${host}`);
      const ev = (await agent.waitFor((e) => e.process_kprobe?.policy_name === 'network-connect'
        && e.process_kprobe.args[1]?.sockaddr_arg?.port === port, `connect to ${host}:${port}`)).process_kprobe!;
      t.same(ev.args[1], { sockaddr_arg: { family, addr: host, port } });
      t.equal(ev.args[0].label, 'fd');
      t.equal(ev.function_name, '__x64_sys_connect');
      t.equal(ev.message, 'outbound connection');
    }
  });
  t.equal(states[0].state, 'loaded', JSON.stringify(states[0].errors));
});

t.test('network-tcp: TCP connect, accept and close are reported with the 5-tuple', { skip: await lacking(['kprobes', 'kretprobes']) }, async (t) => {
  const v4 = await listen('127.0.0.1');
  const v6 = await listen('::1');
  t.teardown(() => { v4.server.close(); v6.server.close(); });
  const states = await withPolicy(join(LIB, 'network-tcp.yaml'), async (agent) => {
    for (const [host, port, family] of [['127.0.0.1', v4.port, 'AF_INET'], ['::1', v6.port, 'AF_INET6']] as const) {
      const c = await connectTuple(host, port) as Tuple;
      t.type(c, 'object', `connected to ${host}`);
      const tuple = { family, type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: c.saddr, daddr: c.daddr, sport: c.sport, dport: c.dport };
      const sock = (e: TetragonEvent, fn: string) => (e.process_kprobe?.function_name === fn ? e.process_kprobe.args[0]?.sock_arg : undefined);
      const connect = (await agent.waitFor((e) => sock(e, 'tcp_connect')?.sport === c.sport && sock(e, 'tcp_connect')?.dport === port, `tcp_connect to ${host}`)).process_kprobe!;
      t.match(connect.args[0].sock_arg, { ...tuple, state: 'TCP_SYN_SENT', cookie: /^\d+$/ });
      t.equal(connect.process.pid, process.pid, 'the connecting process');
      // The same socket (its cookie); a socket that closed normally has given its port back by then.
      const cookie = connect.args[0].sock_arg!.cookie;
      const close = (await agent.waitFor((e) => sock(e, 'tcp_close')?.cookie === cookie, `tcp_close of ${host}`)).process_kprobe!;
      t.match(close.args[0].sock_arg, { family, type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', daddr: c.daddr, dport: c.dport });
      t.equal(close.message, 'TCP close');
      // The server side: inet_csk_accept returns the new socket, the tuple seen from the server.
      const accepted = (e: TetragonEvent) => (e.process_kprobe?.function_name === 'inet_csk_accept' ? e.process_kprobe.return?.sock_arg : undefined);
      const accept = (await agent.waitFor((e) => accepted(e)?.dport === c.sport, `inet_csk_accept from ${host}`)).process_kprobe!;
      t.match(accept.return!.sock_arg, { family, type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: c.daddr, daddr: c.saddr, sport: port, dport: c.sport, state: 'TCP_ESTABLISHED' });
      t.equal(accept.process.pid, process.pid, 'the accepting process (this test\'s server)');
      t.equal(accept.message, 'TCP accept');
    }
  });
  t.equal(states[0].state, 'loaded', JSON.stringify(states[0].errors));
});
