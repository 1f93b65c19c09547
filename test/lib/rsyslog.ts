// A private rsyslogd for tests: its own config, work directory and port
// on 127.0.0.1, started and stopped by the test. Every message it takes is
// written as one tab-separated line: PRI, timestamp, hostname, app-name,
// procid, msgid, structured data, message. TLS uses the gtls driver with
// certificates made here with openssl.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Received {
  pri: number; timestamp: string; hostname: string; app: string; procid: string; msgid: string; sd: string; msg: string;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A CA and a server certificate for localhost and 127.0.0.1; returns the file paths. */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string): string => join(dir, n);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=vigil test CA');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

export class Rsyslog {
  readonly out: string;
  private child?: ChildProcess;
  private log = '';

  constructor(readonly dir: string, readonly port: number, tls?: { ca: string; cert: string; key: string }) {
    mkdirSync(join(dir, 'work'), { recursive: true });
    this.out = join(dir, 'received.log');
    const drivers = tls
      ? ` DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${tls.ca}" DefaultNetstreamDriverCertFile="${tls.cert}" DefaultNetstreamDriverKeyFile="${tls.key}"`
      : '';
    const imtcp = tls ? 'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.Authmode="anon")' : 'module(load="imtcp")';
    writeFileSync(join(dir, 'rsyslog.conf'), `global(workDirectory="${join(dir, 'work')}" maxMessageSize="256k"${drivers})
${imtcp}
template(name="vigilTest" type="list") {
  property(name="pri") constant(value="\\t") property(name="timereported" dateFormat="rfc3339") constant(value="\\t")
  property(name="hostname") constant(value="\\t") property(name="app-name") constant(value="\\t")
  property(name="procid") constant(value="\\t") property(name="msgid") constant(value="\\t")
  property(name="structured-data") constant(value="\\t") property(name="msg") constant(value="\\n")
}
input(type="imtcp" address="127.0.0.1" port="${port}")
action(type="omfile" file="${this.out}" template="vigilTest")
`);
  }

  /** Starts rsyslogd and waits until its port takes connections. */
  async start(): Promise<void> {
    const child = spawn('rsyslogd', ['-n', '-f', join(this.dir, 'rsyslog.conf'), '-i', join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.log += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.log += d));
    const end = Date.now() + 30_000;
    while (!(await this.accepts())) {
      if (child.exitCode !== null || Date.now() > end) throw new Error(`rsyslogd did not start:\n${this.log}`);
      await sleep(100);
    }
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect(this.port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
  }

  /** SIGTERM, and waits for it to exit. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }

  get output(): string {
    return this.log;
  }

  received(): Received[] {
    if (!existsSync(this.out)) return [];
    return readFileSync(this.out, 'utf8').split('\n').filter(Boolean).map((l) => {
      const [pri, timestamp, hostname, app, procid, msgid, sd, ...rest] = l.split('\t');
      return { pri: Number(pri), timestamp, hostname, app, procid, msgid, sd, msg: rest.join('\t').trimStart() };
    });
  }
}
