// Semantic checks of matchActions and matchReturnActions: each action gets
// the arguments it needs, no others, and runs only where it can.
import type { ActionSelector, ActionType, TracingPolicySpec } from '../types.generated.js';
import type { Finding } from './errors.js';
import { argAt, declaredIndexes, type Hook } from './hooks.js';
import { overLimit } from './limits.js';
import type { PathSeg } from './path.js';

type Field = Exclude<keyof ActionSelector, 'action'>;

/** The fields each action reads; any other field is a mistake. */
const USES: Record<ActionType, Field[]> = {
  Post: ['rateLimit', 'rateLimitScope', 'kernelStackTrace', 'userStackTrace', 'imaHash'],
  NoPost: [],
  Sigkill: [],
  Signal: ['argSig'],
  Override: ['argError', 'argRegs'],
  GetUrl: ['argUrl'],
  DnsLookup: ['argFqdn'],
  TrackSock: ['argSock'],
  UntrackSock: ['argSock'],
  NotifyEnforcer: ['argError', 'argSig'],
  CleanupEnforcerNotification: [],
  Set: ['argIndex', 'argValue'],
};

const RATE = /^\d+[smh]?$/;

export function checkActions(hook: Hook, actions: ActionSelector[], path: PathSeg[], isReturn: boolean, spec: TracingPolicySpec, out: Finding[]): void {
  overLimit(out, path, actions.length, 'actionsPerSelector', 'actions');
  actions.forEach((a, i) => {
    const p = [...path, i];
    const at = (field: Field | 'action', message: string): void => { out.push({ path: [...p, field], message }); };
    const need = (field: Field, what: string): boolean => {
      if (a[field] === undefined) at('action', `${a.action} needs ${field}, ${what}`);
      return a[field] !== undefined;
    };
    const argRef = (field: 'argSock' | 'argIndex'): void => {
      const index = a[field];
      if (index !== undefined && !argAt(hook, index)) at(field, `${field} ${index} names no declared arg (${declaredIndexes(hook)})`);
    };
    for (const field of Object.keys(a) as (Field | 'action')[]) {
      if (field === 'action' || USES[a.action].includes(field)) continue;
      const instead = a.action === 'Sigkill' && field === 'argSig' ? ' (Sigkill always sends SIGKILL; use action: Signal to send another signal)' : '';
      // Ignored, as Tetragon ignores it: the kernel does the same with it or without it.
      out.push({ path: [...p, field], at: 'key', severity: 'warning', message: `${a.action} takes no ${field}: it is ignored${instead}` });
    }
    switch (a.action) {
      case 'Override':
        if (hook.kind === 'tracepoint') at('action', 'Override works only on kprobes and lsmhooks, not on tracepoints');
        else if (hook.kind === 'uprobe') at('action', 'Override is not supported on uprobes: a uprobe program cannot make a user-space function return early; use Sigkill or Signal to stop the process');
        else if (isReturn) at('action', 'Override cannot run at return, once the function has run; put it in matchActions, which run at entry');
        if (need('argError', 'a negative errno such as -1 (EPERM)') && a.argError === 0) {
          at('argError', 'argError 0 is success: Override needs an errno such as -1 (EPERM)');
        } else if (a.argError !== undefined && a.argError > 0) {
          out.push({ path: [...p, 'argError'], severity: 'warning', message: `argError ${a.argError} is positive: it is returned as written, as Tetragon does (a connect deny on the cgroup connect programs returns EPERM), and callers that test for a negative error may take it as success; errnos are negative, e.g. -1 (EPERM)` });
        }
        break;
      case 'Signal':
        if (need('argSig', 'the signal number (e.g. 9 for SIGKILL)') && (a.argSig! < 1 || a.argSig! > 64)) {
          at('argSig', `argSig ${a.argSig} is not a signal number (1-64)`);
        }
        break;
      case 'TrackSock': case 'UntrackSock': {
        argRef('argSock');
        const sock = argAt(hook, a.argSock ?? 0);
        if (sock && sock.type !== 'sock') at('argSock', `${a.action} needs an arg of type sock, not ${sock.type}`);
        break;
      }
      case 'GetUrl':
        if (need('argUrl', 'the URL to fetch') && !/^https?:\/\/[^\s/]+/.test(a.argUrl!)) at('argUrl', `argUrl ${JSON.stringify(a.argUrl)} is not an http(s) URL`);
        break;
      case 'DnsLookup':
        need('argFqdn', 'the name to look up');
        break;
      case 'NotifyEnforcer':
        if (!spec.enforcers?.length) at('action', 'NotifyEnforcer needs spec.enforcers');
        if (a.argError === undefined && a.argSig === undefined) at('action', 'NotifyEnforcer needs argError or argSig');
        break;
      case 'Set':
        if (need('argIndex', 'the index of the arg to set')) argRef('argIndex');
        need('argValue', 'the value to set');
        break;
      case 'Post':
        if (a.rateLimit !== undefined && !RATE.test(a.rateLimit)) at('rateLimit', `rateLimit ${JSON.stringify(a.rateLimit)} is not a period such as 30s, 5m or 1h`);
        if (a.rateLimitScope !== undefined && a.rateLimit === undefined) at('rateLimitScope', 'rateLimitScope needs rateLimit');
        if (a.imaHash && hook.kind !== 'lsmhook') at('imaHash', 'imaHash works only on lsmhooks');
        break;
      default:
        break;
    }
  });
}
