// The flags of `vigil run` that shape the exports, named as Tetragon names
// them where it has them, and their parsing. main.ts adds them with one call.
import { Option, type Command } from 'commander';
import { OUTPUT_FORMATS, type OutputFormat } from '../../exporters/formats.js';
import { FACILITIES } from '../../exporters/syslog.js';
import { VigilError } from '../../kernel/errors.js';

export interface ExportOptions {
  exportFileMaxSizeMb: string;
  exportFileMaxBackups: string;
  exportFileCompress: boolean;
  exportFileRotationInterval: string;
  exportFilePerm: string;
  exportFileFormat: OutputFormat;
  exportAllowlist?: string;
  exportDenylist?: string;
  fieldFilters?: string;
  redactionFilters?: string;
  exportRateLimit: string;
  syslogAddress?: string;
  syslogFormat: 'json' | 'ecs' | 'ocsf';
  syslogFacility: string;
  syslogTlsCa?: string;
  syslogTlsCert?: string;
  syslogTlsKey?: string;
  syslogTlsServerName?: string;
  metricsAddress?: string;
}

export function addExportOptions(cmd: Command): Command {
  return cmd
    .option('--export-file-max-size-mb <mb>', 'rotate the export file before it grows past this size (0: never by size)', '10')
    .option('--export-file-max-backups <n>', 'rotated export files kept (0: all)', '5')
    .option('--export-file-compress', 'gzip the rotated export files', false)
    .option('--export-file-rotation-interval <duration>', 'also rotate the export file this often, e.g. 1h, 30m (0: never by time)', '0')
    .option('--export-file-perm <octal>', 'file mode of the export file and its backups', '600')
    .addOption(new Option('--export-file-format <format>', 'line format of the export file').choices(OUTPUT_FORMATS).default('json'))
    .option('--export-allowlist <json>', 'export only events that match one of these Tetragon filters (JSON, one object a line)')
    .option('--export-denylist <json>', 'never export events that match one of these Tetragon filters (JSON, one object a line)')
    .option('--field-filters <json>', 'fields to include or exclude per event type (Tetragon field filters, JSON, one object a line)')
    .option('--redaction-filters <json>', 'regexes whose capture groups are replaced with ***** in process arguments (JSON, one object a line)')
    .option('--export-rate-limit <n>', 'events exported per minute, the rest counted in rate_limit_info events (-1: no limit)', '-1')
    .option('--syslog-address <url>', 'also send events to a syslog server, RFC 5424 octet-counted: tcp://HOST:PORT or tls://HOST:PORT')
    .addOption(new Option('--syslog-format <format>', 'the message of each syslog event').choices(['json', 'ecs', 'ocsf']).default('json'))
    .addOption(new Option('--syslog-facility <name>', 'syslog facility').choices(Object.keys(FACILITIES)).default('local0'))
    .option('--syslog-tls-ca <file>', 'CA certificates (PEM) that sign the syslog server\'s certificate (default: the system\'s)')
    .option('--syslog-tls-cert <file>', 'client certificate (PEM) for servers that ask for one')
    .option('--syslog-tls-key <file>', 'the client certificate\'s key (PEM)')
    .option('--syslog-tls-server-name <name>', 'name the server\'s certificate must carry (default: the host of --syslog-address)')
    .option('--metrics-address <host:port>', 'serve Prometheus metrics on /metrics, and /healthz and /readyz, e.g. 127.0.0.1:2112 or :2112');
}

/** host and port of tcp://HOST:PORT or tls://HOST:PORT (an IPv6 host in brackets). */
export function syslogAddress(value: string): { tls: boolean; host: string; port: number } {
  const m = /^(tcp|tls):\/\/(\[[^\]]+\]|[^:/\[\]]+):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new VigilError('VIGIL_USAGE', `--syslog-address takes tcp://HOST:PORT or tls://HOST:PORT, got ${JSON.stringify(value)}`);
  return { tls: m[1] === 'tls', host: m[2].replace(/^\[|\]$/g, ''), port };
}

/** A whole number of at least 0 from a flag. */
export function count(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new VigilError('VIGIL_USAGE', `${flag} takes a whole number, got ${JSON.stringify(value)}`);
  return n;
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (300ms, 1.5h, 2h45m; 0 alone), in ms, as Tetragon's duration flags take them. */
export function duration(flag: string, value: string): number {
  const v = value.trim();
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let at = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    ms += Number(m[1]) * UNITS[m[2]];
    at = re.lastIndex;
  }
  if (!v || at !== v.length) throw new VigilError('VIGIL_USAGE', `${flag} takes a duration such as 10s, 30m or 1h, got ${JSON.stringify(value)}`);
  return ms;
}

/** A file mode in octal (600, 0640); setuid, setgid and sticky bits are refused. */
export function fileMode(flag: string, value: string): number {
  if (!/^0?[0-7]{3}$/.test(value.trim())) throw new VigilError('VIGIL_USAGE', `${flag} takes an octal file mode such as 600 or 640, got ${JSON.stringify(value)}`);
  return parseInt(value, 8);
}
