// An output with Tetragon's export rules in front of it: the allowlist and
// denylist, the field filters, then the rate limit, as Tetragon applies
// them to its JSON export. Events the rate limit drops are reported to the
// output itself in a rate_limit_info event every minute (and at close).
// The agent's own reports of loss (vigil_lost) and rate_limit_info pass
// every rule: loss is never filtered out of sight. The wrapped output keeps
// its name and its stats, with filtered and rate_limited added.
import { hostname } from 'node:os';
import type { Exporter } from './exporter.js';
import type { TetragonEvent } from './tetragon.js';
import { applyFieldFilters, fieldFilters, type FieldFilter } from './filters/field-filter.js';
import { exportFilter, filterList, type EventPredicate, type FilterContext } from './filters/event-filter.js';
import { RateLimiter } from './rate-limit.js';

export interface ExportRules {
  /** Allowlist and denylist together; undefined exports all. */
  filter?: EventPredicate;
  fields?: FieldFilter[];
  /** Events a minute; undefined for no limit. */
  ratePerMinute?: number;
}

export interface RuleFlags {
  allowlist?: string;
  denylist?: string;
  fieldFilters?: string;
}

/** Rules from filter flags' JSON lines; the flag names are for the errors. */
export function parseRules(flags: RuleFlags, names: Record<keyof RuleFlags, string>, ctx: FilterContext): ExportRules {
  const allow = flags.allowlist ? filterList(flags.allowlist, names.allowlist, ctx) : [];
  const deny = flags.denylist ? filterList(flags.denylist, names.denylist, ctx) : [];
  const fields = flags.fieldFilters ? fieldFilters(flags.fieldFilters, names.fieldFilters) : [];
  return { filter: allow.length || deny.length ? exportFilter(allow, deny) : undefined, fields: fields.length ? fields : undefined };
}

export const hasRules = (r: ExportRules): boolean => !!(r.filter || r.fields || r.ratePerMinute !== undefined);

const bypass = (ev: TetragonEvent): boolean => ev.vigil_lost !== undefined || ev.rate_limit_info !== undefined;

export class RuledExporter implements Exporter {
  readonly name: string;
  private readonly limiter?: RateLimiter;
  private readonly timer?: NodeJS.Timeout;
  private readonly counts = { filtered: 0, rate_limited: 0 };
  /** Dropped by the rate limit since the last rate_limit_info. */
  private unreported = 0;
  private nodeName = hostname();

  constructor(private readonly inner: Exporter, private readonly rules: ExportRules, reportMs = 60_000) {
    this.name = inner.name;
    if (rules.ratePerMinute !== undefined) {
      this.limiter = new RateLimiter(rules.ratePerMinute);
      this.timer = setInterval(() => this.report(), reportMs);
      this.timer.unref();
    }
  }

  write(ev: TetragonEvent): void {
    this.nodeName = ev.node_name;
    if (bypass(ev)) return this.inner.write(ev);
    if (this.rules.filter && !this.rules.filter(ev)) {
      this.counts.filtered++;
      return;
    }
    if (this.limiter && !this.limiter.take()) {
      this.counts.rate_limited++;
      this.unreported++;
      return;
    }
    this.inner.write(this.rules.fields ? applyFieldFilters(this.rules.fields, ev) : ev);
  }

  /** A rate_limit_info event for what the limit dropped since the last one. */
  private report(): void {
    if (!this.unreported) return;
    const dropped = this.unreported;
    this.unreported = 0;
    this.inner.write({ rate_limit_info: { number_of_dropped_process_events: String(dropped) }, node_name: this.nodeName, time: new Date().toISOString().replace(/\.000Z$/, 'Z') }); // protojson drops a zero fraction
  }

  reopen(): void {
    this.inner.reopen?.();
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.report();
    return this.inner.close();
  }

  stats(): Record<string, number | string> {
    return { ...this.inner.stats(), ...this.counts };
  }
}
