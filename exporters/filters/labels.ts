// Kubernetes label selectors, as Tetragon's `labels` filter takes them:
// requirements joined by commas, all of which must hold.
//   key  !key  key=v  key==v  key!=v  key in (a,b)  key notin (a,b)  key>1  key<1
// `!=` and `notin` also hold when the label is absent, as in Kubernetes.
import { VigilError } from '../../kernel/errors.js';

export type LabelSelector = (labels: Record<string, string> | undefined) => boolean;

type Op = 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin' | '>' | '<';
interface Requirement { key: string; op: Op; values: string[] }

const TOKEN = /\s*(notin\b|in\b|==|!=|=|!|>|<|\(|\)|,|[A-Za-z0-9][A-Za-z0-9._/_-]*|\S)/gy;

function tokens(text: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) out.push(m[1]);
  return out;
}

export function labelSelector(text: string, where: string): LabelSelector {
  const fail = (why: string): never => {
    throw new VigilError('VIGIL_USAGE', `${where}: label selector ${JSON.stringify(text)}: ${why}`);
  };
  const t = tokens(text);
  const reqs: Requirement[] = [];
  const name = /^[A-Za-z0-9][A-Za-z0-9._/_-]*$/;
  let i = 0;
  const next = (): string | undefined => t[i++];
  while (i < t.length) {
    let tok = next();
    const negated = tok === '!';
    if (negated) tok = next();
    if (!tok || !name.test(tok)) fail(`expected a label key, found ${JSON.stringify(tok ?? 'the end')}`);
    const key = tok!;
    const op = t[i];
    if (negated || op === undefined || op === ',') {
      reqs.push({ key, op: negated ? '!exists' : 'exists', values: [] });
    } else if (op === 'in' || op === 'notin') {
      i++;
      if (next() !== '(') fail(`expected "(" after ${op}`);
      const values: string[] = [];
      for (let v = next(); v !== ')'; v = next()) {
        if (v === undefined) fail('a set is not closed with ")"');
        if (v === ',') continue;
        if (!name.test(v!)) fail(`bad value ${JSON.stringify(v)}`);
        values.push(v!);
      }
      reqs.push({ key, op, values });
    } else if (['=', '==', '!=', '>', '<'].includes(op)) {
      i++;
      const v = t[i] !== undefined && t[i] !== ',' ? next()! : '';
      if (v && !name.test(v)) fail(`bad value ${JSON.stringify(v)}`);
      if ((op === '>' || op === '<') && !/^-?\d+$/.test(v)) fail(`${op} takes an integer`);
      reqs.push({ key, op: (op === '==' ? '=' : op) as Op, values: [v] });
    } else {
      fail(`unexpected ${JSON.stringify(op)}`);
    }
    if (i < t.length && next() !== ',') fail('requirements are separated by commas');
  }
  return (labels) => reqs.every((r) => holds(r, labels ?? {}));
}

function holds(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case 'exists': return has;
    case '!exists': return !has;
    case '=': return has && v === r.values[0];
    case '!=': return !has || v !== r.values[0];
    case 'in': return has && r.values.includes(v);
    case 'notin': return !has || !r.values.includes(v);
    case '>': return has && /^-?\d+$/.test(v) && Number(v) > Number(r.values[0]);
    case '<': return has && /^-?\d+$/.test(v) && Number(v) < Number(r.values[0]);
  }
}
