// matchArgs and matchReturnArgs: the filtered arg is declared, the operator
// fits its type, and every value parses for the operator.
import type { ArgSelector, ArgType, TracingPolicySpec } from '../types.generated.js';
import type { Finding } from './errors.js';
import { declaredIndexes, filteredArg, returnArgOf, type Hook } from './hooks.js';
import { overLimit } from './limits.js';
import { listRefProblem } from './lists.js';
import { INLINE_INT, isIntType, NO_VALUES, operatorsFor, REFUSED_OPERATORS } from './operators.js';
import type { PathSeg } from './path.js';
import { needValues, SUBSTRING_OPS, valueProblem } from './values.js';

export function checkMatchArg(hook: Hook, m: ArgSelector, path: PathSeg[], isReturn: boolean, spec: TracingPolicySpec, out: Finding[]): void {
  const types: ArgType[] = [];
  if (isReturn) {
    const ret = returnArgOf(hook);
    if (ret) types.push(ret.type);
  } else if (m.index === undefined && m.args === undefined) {
    out.push({ path, message: 'needs index (an args[].index) or args (positions in args)' });
  } else {
    if (m.index !== undefined) {
      const arg = filteredArg(hook, m.index);
      if (arg) types.push(arg.type);
      else if (hook.kind === 'tracepoint') out.push({ path: [...path, 'index'], message: `index ${m.index} is past the hook's ${hook.args.length} args (on tracepoints, matchArgs.index is a position in args)` });
      else out.push({ path: [...path, 'index'], message: `no arg with index ${m.index} (${declaredIndexes(hook)})` });
    }
    m.args?.forEach((k, j) => {
      if (hook.args[k]) types.push(hook.args[k].type);
      else out.push({ path: [...path, 'args', j], message: `args position ${k} is out of range: the hook declares ${hook.args.length} args` });
    });
  }
  const refused = REFUSED_OPERATORS[m.operator];
  if (refused) {
    out.push({ path: [...path, 'operator'], message: `operator ${m.operator} is refused: ${refused}` });
    return;
  }
  for (const type of new Set(types)) {
    const ops = operatorsFor(type);
    if (ops && !ops.includes(m.operator)) {
      const use = (ops.length ? `; it takes ${ops.join(', ')}` : '')
        + (type === 'sockaddr' && /^(Not)?D(Addr|Port)/.test(m.operator) ? ' (a sockaddr holds one address and port, matched as the source, as Tetragon does)' : '');
      out.push({ path: [...path, 'operator'], message: `operator ${m.operator} does not apply to an arg of type ${type}${use}` });
      return;
    }
  }
  const values = m.values ?? [];
  if (NO_VALUES.has(m.operator)) {
    if (values.length) out.push({ path: [...path, 'values'], message: `operator ${m.operator} takes no values` });
    return;
  }
  if (!needValues(m.values, path, out)) return;
  const inline = types.some(isIntType) && INLINE_INT.has(m.operator);
  const limit = inline ? 'inlineValuesPerMatch' : SUBSTRING_OPS.has(m.operator) ? 'substringValuesPerMatch' : 'mapValuesPerMatch';
  overLimit(out, [...path, 'values'], values.length, limit, 'values');
  values.forEach((v, j) => {
    const problem = v.startsWith('list:')
      ? listRefProblem(v.slice(5), spec)
      : [...new Set(types.length ? types : ['auto' as const])].map((t) => valueProblem(m.operator, t, v)).find(Boolean);
    if (problem) out.push({ path: [...path, 'values', j], message: problem });
  });
}
