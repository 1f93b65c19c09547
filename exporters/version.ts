// Vigil's version, from its package.json, for the formats that name the product.
import { readFileSync } from 'node:fs';

function read(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch { /* the other layout: source or dist */ }
  }
  return '0.0.0';
}

export const VIGIL_VERSION = read();
