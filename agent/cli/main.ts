// vigil: the command line. main() is importable; bin/vigil.js only calls it.
import { Command, Option, CommanderError } from 'commander';
import { VigilError } from '../../kernel/errors.js';
import { DEFAULT_SOCKET } from '../control/protocol.js';
import { DEFAULT_EXPORT_FILE } from '../../exporters/json-file.js';
import { addExportOptions } from './export-options.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function program(): Command {
  const cli = new Command('vigil')
    .description('eBPF runtime security agent: process lifecycle and TracingPolicies, as Tetragon-format JSON')
    .exitOverride()
    .showHelpAfterError();

  addExportOptions(cli.command('run'))
    .description('run the agent: load the sensors and export events until SIGINT/SIGTERM')
    .option('--policy <file|dir>', 'TracingPolicy file or directory (repeatable)', collect, [])
    .option('--policy-dir <dir>', 'load the policies of this directory and follow its changes')
    .option('--export-file <path>', 'append events as JSON lines to this file', DEFAULT_EXPORT_FILE)
    .option('--no-export-file', 'do not write an export file')
    .addOption(new Option('--output <format>', 'events on stdout').choices(['compact', 'json', 'ecs', 'ocsf', 'none']).default('compact'))
    .option('--ancestors', 'the same as --enable-ancestors base', false)
    .option('--enable-ancestors <kinds>', "add every ancestor beyond the parent to these events, comma-separated: base (process_exec and process_exit; needed by the others), kprobe, tracepoint, lsm (Tetragon's flag)")
    .option('--enable-process-ns', "add namespaces to processes (Tetragon's flag; off by default)", false)
    .addOption(new Option('--username-metadata <mode>', "unix: name the uid of processes in the host's user and mount namespaces from the host's /etc/passwd (Tetragon's flag)").choices(['disabled', 'unix']).default('disabled'))
    .option('--enable-process-cred', "add credentials and capabilities to processes, and binary_properties to process_exec (Tetragon's flag; off by default)", false)
    .option('--socket <path>', 'control socket for status and events', DEFAULT_SOCKET)
    .option('--node-name <name>', 'node name in events and exec ids, and the Kubernetes node whose pods are watched (default: hostname)')
    .option('--kubeconfig <path>', 'watch this node\'s pods through this kubeconfig (in a pod, the service account is used without it)')
    .option('--no-k8s', 'no Kubernetes: no pod data, even in a pod (containers still get docker)')
    .option('--no-k8s-policies', 'with Kubernetes, do not load TracingPolicy and TracingPolicyNamespaced objects from the cluster')
    .option('--k8s-policy-selector <labels>', 'load only the TracingPolicy objects with these labels (a Kubernetes label selector, e.g. fleet=web)')
    .option('--pod-wait <seconds>', 'how long an event waits for its process\'s pod before it goes out without it', (v) => Number(v), 30)
    .option('--ring-size <bytes>', 'ring buffer size, a power of two', (v) => Number(v), 16 << 20)
    .option('--disable-feature <id>', 'treat a kernel feature as missing, so hooks take the next mechanism (repeatable; see vigil probe)', collect, [])
    .option('--pin-dir <dir>', 'bpffs directory where enforcement is pinned, so it outlives a crash of the agent', '/sys/fs/bpf/vigil')
    .option('--no-pin', 'do not pin: enforcement stops with the agent')
    .option('--cleanup', 'remove what an earlier agent left pinned (its enforcement stops), then exit', false)
    .action(async (opts) => (await import('./run.js')).run(opts));

  cli.command('probe')
    .description('test which BPF features this kernel offers, by loading a tiny program for each')
    .option('--json', 'print JSON', false)
    .action(async (opts) => (await import('./probe.js')).probe(opts));

  cli.command('status')
    .description("print the running agent's state")
    .option('--json', 'print JSON', false)
    .option('--socket <path>', 'control socket', DEFAULT_SOCKET)
    .action(async (opts) => (await import('./status.js')).status(opts));

  cli.command('events')
    .description('live tail of the running agent\'s events, or of exported JSON lines (--input)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['compact', 'json']).default('compact'))
    .option('--process <regex>', 'only events whose process binary matches')
    .option('--pid <pid>', 'only events of this pid (repeatable)', collect, [])
    .option('-e, --event-types <list>', 'comma-separated: process_exec,process_exit,process_kprobe,process_tracepoint,process_uprobe,process_lsm (or PROCESS_EXEC, ...)')
    .option('--policy-names <list>', 'only events of these policies, comma-separated')
    .option('--namespace <ns>', 'only events of processes in pods of this Kubernetes namespace')
    .option('--pod <regex>', 'only events of processes in pods whose name matches')
    .option('--container <name>', 'only events of processes in containers of this name')
    .option('--host', 'only events of processes in no pod', false)
    .option('--timestamps', 'compact lines start with the event time', false)
    .addOption(new Option('--color <when>', 'colour compact lines').choices(['auto', 'always', 'never']).default('auto'))
    .option('--input <file>', 'read exported JSON lines from this file (- for stdin) instead of the agent, to their end')
    .option('--allowlist <json>', 'only events that match one of these Tetragon filters (JSON, one object a line)')
    .option('--denylist <json>', 'no events that match one of these Tetragon filters (JSON, one object a line)')
    .option('--field-filters <json>', 'fields to include or exclude per event type (Tetragon field filters)')
    .option('--socket <path>', 'control socket', DEFAULT_SOCKET)
    .action(async (opts) => (await import('./events.js')).events(opts));

  const policy = cli.command('policy').description('TracingPolicy tools: lint files; list, add and delete in the running agent');
  policy.command('lint')
    .description('validate TracingPolicy files: YAML, schema, semantics and this kernel; loads nothing')
    .argument('<files...>', 'policy files, or directories of *.yaml and *.yml files')
    .option('--json', 'print the errors as a JSON array', false)
    .action(async (files: string[], opts) => {
      if (await (await import('./policy.js')).policyLint(files, opts)) {
        throw new VigilError('VIGIL_POLICY_INVALID', 'the policies have errors, listed above');
      }
    });
  policy.command('list')
    .description('loaded policies: each hook, its mechanism and why, its enforcement, state, matches, lost events and undecided calls')
    .option('--json', 'print JSON', false)
    .option('--socket <path>', 'control socket', DEFAULT_SOCKET)
    .action(async (opts) => (await import('./policy-control.js')).policyList(opts));
  policy.command('add')
    .description('load the policies of a file into the running agent (a policy of the same name is replaced)')
    .argument('<file>', 'TracingPolicy YAML file')
    .option('--json', 'print JSON', false)
    .option('--socket <path>', 'control socket', DEFAULT_SOCKET)
    .action(async (file: string, opts) => {
      if (await (await import('./policy-control.js')).policyAdd(file, opts)) {
        throw new VigilError('VIGIL_POLICY_INVALID', `a policy of ${file} did not load, see above`);
      }
    });
  policy.command('delete')
    .description('unload a policy from the running agent')
    .argument('<name>', 'metadata.name of the policy')
    .option('--socket <path>', 'control socket', DEFAULT_SOCKET)
    .action(async (name: string, opts) => {
      if (await (await import('./policy-control.js')).policyDelete(name, opts)) {
        throw new VigilError('VIGIL_USAGE', `no policy named ${name} is loaded`);
      }
    });

  return cli;
}

/** Runs the CLI; returns the exit code. One catch prints every error. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof VigilError) {
      process.stderr.write(`vigil: ${err.oneLine()}\n`);
      if (err.log && process.env.VIGIL_VERBOSE) process.stderr.write(`${err.log}\n`);
      return 1;
    }
    process.stderr.write(`vigil: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}
