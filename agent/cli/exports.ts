// The outputs `vigil run` exports to, built from its flags: the export
// file, standard output.
import type { Exporter, ExporterLog } from '../../exporters/exporter.js';
import { JsonFileExporter } from '../../exporters/json-file.js';
import { StdoutExporter } from '../../exporters/stdout.js';
import { lineFormat } from '../../exporters/formats.js';
import { count, duration, fileMode, type ExportOptions } from './export-options.js';

export interface OutputOptions extends ExportOptions {
  exportFile: string | false;
  output: 'compact' | 'json' | 'none';
}

export function buildExporters(opts: OutputOptions, log: ExporterLog): Exporter[] {
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
  return exporters;
}
