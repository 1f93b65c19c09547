// Symbolic values Tetragon accepts in selectors.
import { FAMILY_NUMBERS, PROTOCOL_NUMBERS, TCP_STATE_NUMBERS } from '../net/names.js';

/** Capability names by bit number, as Tetragon prints them and TracingPolicies name them. */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const NAMESPACES = ['Uts', 'Ipc', 'Mnt', 'Pid', 'PidForChildren', 'Net', 'Time', 'TimeForChildren', 'Cgroup', 'User'];

export const TCP_STATES = Object.keys(TCP_STATE_NUMBERS);

export const PROTOCOLS = Object.keys(PROTOCOL_NUMBERS);

export const FAMILIES = Object.keys(FAMILY_NUMBERS);
