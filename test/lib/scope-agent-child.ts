// An agent in a child process for tests that kill it: its policies' scopes
// get the cgroups named on the command line, then it says "ready" and runs
// until it is killed.
//
//   node scope-agent-child.js DIR POLICY-FILE CGROUP-DIR…
import { startPolicyAgent } from './policy-agent.js';

const [dir, policy, ...cgroups] = process.argv.slice(2);
const p = await startPolicyAgent({ dir, policies: [policy] });
for (const scope of p.agent.scopes.list()) for (const c of cgroups) scope.addCgroup(c);
process.stdout.write('ready\n');
setInterval(() => {}, 1 << 30);
