// Symbolic values Tetragon accepts in selectors.

export { CAPABILITIES } from '../../agent/process/format.js';

export const NAMESPACES = ['Uts', 'Ipc', 'Mnt', 'Pid', 'PidForChildren', 'Net', 'Time', 'TimeForChildren', 'Cgroup', 'User'];

export const TCP_STATES = [
  'TCP_ESTABLISHED', 'TCP_SYN_SENT', 'TCP_SYN_RECV', 'TCP_FIN_WAIT1', 'TCP_FIN_WAIT2', 'TCP_TIME_WAIT', 'TCP_CLOSE',
  'TCP_CLOSE_WAIT', 'TCP_LAST_ACK', 'TCP_LISTEN', 'TCP_CLOSING', 'TCP_NEW_SYN_RECV',
];

export const PROTOCOLS = ['IPPROTO_IP', 'IPPROTO_ICMP', 'IPPROTO_TCP', 'IPPROTO_UDP', 'IPPROTO_IPV6', 'IPPROTO_ICMPV6', 'IPPROTO_SCTP', 'IPPROTO_RAW', 'IPPROTO_MPTCP'];

export const FAMILIES = ['AF_UNSPEC', 'AF_UNIX', 'AF_LOCAL', 'AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET', 'AF_VSOCK', 'AF_XDP'];
