// The outputs `vigil run` exports to, built from its flags: the export
// file, standard output; each behind the export rules (filters, field
// filters, rate limit) when any is given. Redaction is not an output's:
// the agent applies it in its process cache.
import type { Exporter, ExporterLog } from '../../exporters/exporter.js';
import { RuledExporter, hasRules, parseRules, type ExportRules } from '../../exporters/export-rules.js';
import { redactionFilters, type Redactor } from '../../exporters/filters/redaction.js';
import { VigilError } from '../../kernel/errors.js';
import { JsonFileExporter } from '../../exporters/json-file.js';
import { StdoutExporter } from '../../exporters/stdout.js';
import { lineFormat, type OutputFormat } from '../../exporters/formats.js';
import { count, duration, fileMode, type ExportOptions } from './export-options.js';

export interface OutputOptions extends ExportOptions {
  exportFile: string | false;
  output: OutputFormat | 'none';
  ancestors: boolean;
}

function exportRules(opts: OutputOptions): ExportRules {
  const rules = parseRules(
    { allowlist: opts.exportAllowlist, denylist: opts.exportDenylist, fieldFilters: opts.fieldFilters },
    { allowlist: '--export-allowlist', denylist: '--export-denylist', fieldFilters: '--field-filters' },
    { ancestors: opts.ancestors },
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
  return hasRules(rules) ? exporters.map((e) => new RuledExporter(e, rules)) : exporters;
}
