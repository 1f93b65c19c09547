// Events to a syslog server as RFC 5424 messages, octet-counted (RFC 6587
// 3.4.1: "LENGTH SP MESSAGE") over TCP or TLS (RFC 5425), through a
// StreamSink that queues (bounded), reconnects and resends.
//
//   <PRI>1 TIMESTAMP NODE vigil PID MSGID [vigil@32473 type=".." policy=".." namespace=".." pod=".."] MSG
//
// MSGID and type are the event type; policy, namespace and pod are there
// when the event has them. The MSG is the event as a JSON line of the
// chosen format, with every non-ASCII character escaped (\uXXXX), so it
// is plain ASCII and needs no BOM. 32473 is the enterprise number RFC 5612
// keeps for examples; Vigil has none of its own. Severity: info for exec
// and exit, notice for policy events, warning for enforcement and loss.
import type { ConnectionOptions } from 'node:tls';
import type { Exporter, ExporterLog } from './exporter.js';
import type { TetragonEvent } from './tetragon.js';
import { eventType } from './tetragon.js';
import type { LineFormat } from './formats.js';
import { enforced, facts } from './event-facts.js';
import { StreamSink } from './stream-sink.js';

export const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
export const SD_ID = 'vigil@32473';

const WARNING = 4;
const NOTICE = 5;
const INFO = 6;

/** PRINTUSASCII (33..126), at most max characters, or the nil value. */
const header = (s: string, max: number): string => s.replace(/[^\x21-\x7e]/g, '').slice(0, max) || '-';
/** An SD-PARAM value: ", \ and ] escaped. */
const param = (s: string): string => s.replace(/["\\\]]/g, (c) => `\\${c}`);
const ascii = (s: string): string => s.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
/** RFC 5424 allows 6 digits of a second. */
const timestamp = (t: string): string => t.replace(/(\.\d{6})\d+/, '$1');

export function syslogMessage(ev: TetragonEvent, msg: string, facility: number, pid = process.pid): string {
  const f = facts(ev);
  const type = eventType(ev) ?? 'event';
  const severity = f.kind === 'lost' || f.kind === 'rate_limit' || (f.policy && enforced(f.policy.action)) ? WARNING : f.kind === 'policy' ? NOTICE : INFO;
  const pod = f.process && 'pod' in f.process ? f.process.pod : undefined;
  const params = [`type="${type}"`];
  if (f.policy) params.push(`policy="${param(f.policy.policy)}"`);
  if (pod) params.push(`namespace="${param(pod.namespace)}"`, `pod="${param(pod.name)}"`);
  return `<${facility * 8 + severity}>1 ${timestamp(ev.time)} ${header(ev.node_name, 255)} vigil ${pid} ${header(type, 32)} [${SD_ID} ${params.join(' ')}] ${ascii(msg)}`;
}

/** One octet-counted frame. */
export function frame(message: string): Buffer {
  const body = Buffer.from(message);
  return Buffer.concat([Buffer.from(`${body.length} `), body]);
}

export interface SyslogOptions {
  host: string;
  port: number;
  /** TLS options, read at each connect (certificates can be replaced, then SIGHUP); undefined for TCP. */
  tls?: () => ConnectionOptions;
  format: LineFormat;
  facility: number;
  maxPendingBytes?: number;
  log?: ExporterLog;
}

export class SyslogExporter implements Exporter {
  readonly name = 'syslog';
  private readonly sink: StreamSink;
  private dropped = 0;

  constructor(private readonly opts: SyslogOptions) {
    this.sink = new StreamSink({ name: this.name, host: opts.host, port: opts.port, tls: opts.tls, maxPendingBytes: opts.maxPendingBytes, log: opts.log });
  }

  write(ev: TetragonEvent): void {
    const msg = this.opts.format(ev);
    if (msg === undefined) return;
    if (!this.sink.push(frame(syslogMessage(ev, msg, this.opts.facility)))) this.dropped++;
  }

  reopen(): void {
    this.sink.reconnect();
  }

  async close(): Promise<void> {
    const left = await this.sink.close();
    if (left) {
      this.dropped += left;
      this.opts.log?.warn({ exporter: this.name, target: this.sink.target, dropped: left }, 'syslog server did not take these events before exit');
    }
  }

  stats(): Record<string, number | string> {
    return {
      target: this.sink.target, connected: this.sink.isConnected ? 1 : 0, written: this.sink.counts.delivered, dropped: this.dropped,
      pending: this.sink.pending, reconnects: this.sink.counts.reconnects, resent: this.sink.counts.resent, errors: this.sink.counts.errors,
      ...(this.sink.error ? { error: this.sink.error } : {}),
    };
  }
}
