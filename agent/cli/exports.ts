// The outputs `vigil run` exports to, built from its flags: the export
// file, standard output, a syslog server; each behind the export rules (filters, field
// filters, rate limit) when any is given. Redaction is not an output's:
// the agent applies it in its process cache.
import type { Exporter, ExporterLog } from '../../exporters/exporter.js';
import { RuledExporter, hasRules, parseRules, type ExportRules } from '../../exporters/export-rules.js';
import { redactionFilters, type Redactor } from '../../exporters/filters/redaction.js';
import { VigilError } from '../../kernel/errors.js';
import { ANCESTOR_KINDS } from '../enrich/process-events.js';
import type { EventType } from '../../exporters/tetragon.js';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { FACILITIES, SyslogExporter } from '../../exporters/syslog.js';
import { JsonFileExporter } from '../../exporters/json-file.js';
import { StdoutExporter } from '../../exporters/stdout.js';
import { lineFormat, type OutputFormat } from '../../exporters/formats.js';
import { count, duration, fileMode, syslogAddress, type ExportOptions } from './export-options.js';

export interface OutputOptions extends ExportOptions {
  exportFile: string | false;
  output: OutputFormat | 'none';
  ancestors: boolean;
  enableAncestors?: string;
}

/** The event kinds that carry ancestors, from --enable-ancestors (and --ancestors, which is its base). */
export function ancestorKinds(opts: Pick<OutputOptions, 'ancestors' | 'enableAncestors'>): EventType[] {
  const names = (opts.enableAncestors ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (opts.ancestors) names.push('base');
  for (const n of names) {
    if (!ANCESTOR_KINDS[n]) throw new VigilError('VIGIL_USAGE', `--enable-ancestors: unknown kind ${JSON.stringify(n)}; kinds are ${Object.keys(ANCESTOR_KINDS).join(', ')}`);
  }
  if (names.length && !names.includes('base')) throw new VigilError('VIGIL_USAGE', '--enable-ancestors: the other kinds need base, as in Tetragon: give base too');
  return [...new Set(names.flatMap((n) => ANCESTOR_KINDS[n]))];
}

function exportRules(opts: OutputOptions): ExportRules {
  const rules = parseRules(
    { allowlist: opts.exportAllowlist, denylist: opts.exportDenylist, fieldFilters: opts.fieldFilters },
    { allowlist: '--export-allowlist', denylist: '--export-denylist', fieldFilters: '--field-filters' },
    { ancestors: new Set(ancestorKinds(opts).map((k) => k.toUpperCase())) },
  );
  const limit = Number(opts.exportRateLimit);
  if (!Number.isInteger(limit) || limit < -1) throw new VigilError('VIGIL_USAGE', `--export-rate-limit takes events per minute, or -1 for no limit, got ${JSON.stringify(opts.exportRateLimit)}`);
  return { ...rules, ratePerMinute: limit >= 0 ? limit : undefined };
}

export const buildRedactor = (opts: OutputOptions): Redactor | undefined =>
  opts.redactionFilters ? redactionFilters(opts.redactionFilters, '--redaction-filters') : undefined;

export function buildExporters(opts: OutputOptions, log: ExporterLog): Exporter[] {
  const rules = exportRules(opts);
  const exporters: Exporter[] = [];
  if (opts.exportFile) {
    exporters.push(new JsonFileExporter(opts.exportFile, {
      log,
      format: lineFormat(opts.exportFileFormat),
      maxBytes: count('--export-file-max-size-mb', opts.exportFileMaxSizeMb) * 1024 * 1024,
      maxBackups: count('--export-file-max-backups', opts.exportFileMaxBackups),
      compress: opts.exportFileCompress,
      rotateMs: duration('--export-file-rotation-interval', opts.exportFileRotationInterval),
      mode: fileMode('--export-file-perm', opts.exportFilePerm),
    }));
  }
  if (opts.output !== 'none') exporters.push(new StdoutExporter(opts.output, process.stdout, log));
  if (opts.syslogAddress) exporters.push(syslog(opts, log));
  return hasRules(rules) ? exporters.map((e) => new RuledExporter(e, rules)) : exporters;
}

/** TLS files are read at each connect, so a replaced certificate is used after a SIGHUP or a reconnect. */
function tlsOptions(opts: OutputOptions): () => ConnectionOptions {
  const read = (flag: string, file?: string): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new VigilError('VIGIL_USAGE', `${flag}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const files = (): ConnectionOptions => ({
    ca: read('--syslog-tls-ca', opts.syslogTlsCa), cert: read('--syslog-tls-cert', opts.syslogTlsCert), key: read('--syslog-tls-key', opts.syslogTlsKey),
    servername: opts.syslogTlsServerName, rejectUnauthorized: true,
  });
  files();
  return files;
}

function syslog(opts: OutputOptions, log: ExporterLog): Exporter {
  const addr = syslogAddress(opts.syslogAddress!);
  if (!addr.tls && (opts.syslogTlsCa || opts.syslogTlsCert || opts.syslogTlsKey)) {
    throw new VigilError('VIGIL_USAGE', '--syslog-tls-* options need a tls:// --syslog-address');
  }
  return new SyslogExporter({
    host: addr.host, port: addr.port, tls: addr.tls ? tlsOptions(opts) : undefined,
    format: lineFormat(opts.syslogFormat), facility: FACILITIES[opts.syslogFacility], log,
  });
}
