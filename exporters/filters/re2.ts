// Regular expressions in RE2 syntax, as Tetragon's filters take them (Go's
// regexp is RE2). re2js matches in linear time, so an argument an attacker
// chose can never make a filter backtrack for seconds and stall the agent.
import { RE2JS } from 're2js';
import { VigilError } from '../../kernel/errors.js';

export type Re2 = RE2JS;

/** Compiles pattern; a bad one is a usage error naming where it was given. */
export function re2(pattern: unknown, where: string): Re2 {
  if (typeof pattern !== 'string') throw new VigilError('VIGIL_USAGE', `${where}: a regular expression is a string, got ${JSON.stringify(pattern)}`);
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw new VigilError('VIGIL_USAGE', `${where}: ${JSON.stringify(pattern)} is not an RE2 regular expression: ${(err as Error).message}`);
  }
}

/** Whether any of res matches somewhere in s (Go's MatchString). */
export const anyMatch = (res: Re2[], s: string): boolean => res.some((r) => r.test(s));
