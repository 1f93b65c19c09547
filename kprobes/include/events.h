/* Records that Vigil's BPF programs write to the ring buffer.
 *
 * This header is the single definition of each record: the BPF programs
 * include it, and the agent's decoder is checked against the compiled
 * objects' BTF (test/internals/layouts.test.ts). Plain fixed-width types
 * only, no kernel includes.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

/* Op codes: the first byte of every record. */
enum vigil_op {
	VIGIL_OP_EXEC = 1,
	VIGIL_OP_CLONE = 2,
	VIGIL_OP_EXIT = 3,
	VIGIL_OP_GENERIC = 4,
};

/* Capture limits of the variable-length parts of an exec record. */
enum vigil_limits {
	VIGIL_PATH_MAX = 4096,
	VIGIL_ARGS_MAX = 4096,
	VIGIL_BINARY_MAX = 256,
	VIGIL_HOOK_ARGS_MAX = 8,
	VIGIL_ARG_BYTES_MAX = 4096,
	VIGIL_NET_UNIX_PATH = 108, /* sun_path of struct sockaddr_un */
};

/* Process flags (struct vigil_msg_exec.flags). */
enum vigil_process_flag {
	VIGIL_FLAG_EXECVE = 1 << 0,
	VIGIL_FLAG_CLONE = 1 << 1,
	VIGIL_FLAG_PROCFS = 1 << 2,
	VIGIL_FLAG_TRUNC_FILENAME = 1 << 3,
	VIGIL_FLAG_TRUNC_ARGS = 1 << 4,
	VIGIL_FLAG_TRUNC_CWD = 1 << 5,
	VIGIL_FLAG_NOCWD = 1 << 6,
	VIGIL_FLAG_ROOTCWD = 1 << 7,
	VIGIL_FLAG_ERROR_ARGS = 1 << 8,
};

/* What an exec changed (struct vigil_msg_exec.secure). */
enum vigil_exec_secure {
	VIGIL_EXEC_SETUID = 1 << 0,      /* a set-user-ID file gave a new euid */
	VIGIL_EXEC_SETGID = 1 << 1,      /* a set-group-ID file gave a new egid */
	VIGIL_EXEC_SETUID_ROOT = 1 << 2, /* ... and that euid is root */
	VIGIL_EXEC_SETGID_ROOT = 1 << 3, /* ... and that egid is root */
	VIGIL_EXEC_FILE_CAP = 1 << 4,    /* a non-root process gained permitted capabilities: file capabilities */
};

/* Namespace types: the index of each in the ns arrays. */
enum vigil_ns_type {
	VIGIL_NS_UTS = 0,
	VIGIL_NS_IPC = 1,
	VIGIL_NS_MNT = 2,
	VIGIL_NS_PID = 3,
	VIGIL_NS_PID_FOR_CHILDREN = 4,
	VIGIL_NS_NET = 5,
	VIGIL_NS_TIME = 6,
	VIGIL_NS_TIME_FOR_CHILDREN = 7,
	VIGIL_NS_CGROUP = 8,
	VIGIL_NS_USER = 9,
	VIGIL_NS_TYPES = 10,
};

/* Common header of every record. */
struct vigil_msg_header {
	__u8 op;
	__u8 pad0;
	__u16 size; /* whole record, header included */
	__u32 cpu;
	__u64 ktime; /* bpf_ktime_get_ns() when the record was made */
};

/* A process's identity: thread group id plus the ktime of its exec or clone. */
struct vigil_process_id {
	__u32 pid;
	__u32 pad0;
	__u64 ktime;
};

struct vigil_creds {
	__u32 uid;
	__u32 gid;
	__u32 suid;
	__u32 sgid;
	__u32 euid;
	__u32 egid;
	__u32 fsuid;
	__u32 fsgid;
};

struct vigil_caps {
	__u64 permitted;
	__u64 effective;
	__u64 inheritable;
};

/* VIGIL_OP_EXEC. The record is followed by binary_len bytes of the binary's absolute
 * path, then args_len bytes of NUL-separated arguments (argv[0] first),
 * then cwd_len bytes of the working directory, then filename_len bytes of
 * the name exec was given (bprm->filename), only for a file with no link
 * left (memfd, deleted). No NUL terminators between the parts. */
struct vigil_msg_exec {
	struct vigil_msg_header hdr;
	struct vigil_process_id proc;
	struct vigil_process_id parent;
	__u32 tid;
	__u32 auid;
	__u32 flags;
	__u32 nspid;
	struct vigil_creds creds;
	struct vigil_caps caps;
	__u64 cgroup_id;
	__u64 ino;     /* the executed file's inode */
	__u32 nlink;   /* its link count: 0 for a memfd or a deleted file */
	__u32 secure;  /* enum vigil_exec_secure */
	__u32 ns[VIGIL_NS_TYPES]; /* namespace inode numbers, by enum vigil_ns_type */
	__u16 binary_len;
	__u16 args_len;
	__u16 cwd_len;
	__u16 filename_len;
};

/* VIGIL_OP_CLONE: a new process (not a thread) was forked. */
struct vigil_msg_clone {
	struct vigil_msg_header hdr;
	struct vigil_process_id proc;
	struct vigil_process_id parent;
	__u32 tid;
	__u32 flags;
};

/* VIGIL_OP_EXIT: the last thread of a process exited. */
struct vigil_msg_exit {
	struct vigil_msg_header hdr;
	struct vigil_process_id proc;
	__u32 tid;
	__u32 code; /* wait status: exit status << 8 | terminating signal */
};

/* What a generic hook did (struct vigil_msg_generic.action). */
enum vigil_action {
	VIGIL_ACTION_POST = 1,
	VIGIL_ACTION_SIGKILL = 2,
	VIGIL_ACTION_SIGNAL = 3,
	VIGIL_ACTION_OVERRIDE = 4,
};

/* Per-argument flags (struct vigil_msg_generic.arg_flags). */
enum vigil_arg_flag {
	VIGIL_ARG_TRUNCATED = 1 << 0, /* the bytes were cut at VIGIL_ARG_BYTES_MAX */
	VIGIL_ARG_ERROR = 1 << 1,     /* the value could not be read */
};

/* VIGIL_OP_GENERIC: a policy hook fired and a selector matched (or it has
 * none). Followed by the arguments' bytes back to back, arg_len[i] each:
 * integers as 8 bytes little-endian, already truncated and sign-extended
 * to their type; strings and resolved paths as their bytes, without NUL;
 * char_buf and char_iovec as the buffer's full size (u64) then the bytes
 * copied; cred as struct vigil_cred_arg; bpf_attr, bpf_prog, bpf_map,
 * perf_event, user_namespace, module and load_info as the structs below;
 * net_device as its name's bytes. A return probe's record has one
 * more arg after the hook's args: the return value. */
struct vigil_msg_generic {
	struct vigil_msg_header hdr;
	struct vigil_process_id proc;
	__u32 tid;
	__u32 hook_id;  /* assigned by the agent, in the hook's rodata */
	__s64 ret;      /* Override: the value returned instead */
	__u8 action;    /* enum vigil_action */
	__u8 selector;  /* 1-based index of the matching selector; 0: the hook has none */
	__u8 arg_count;
	__u8 pad0;
	__u16 arg_len[VIGIL_HOOK_ARGS_MAX];
	__u8 arg_flags[VIGIL_HOOK_ARGS_MAX];
	__u32 pad1;
};

/* A user namespace: a user_namespace arg (VIGIL_ARG_USERNS), and a cred's. */
struct vigil_userns {
	__s32 level; /* 0: the initial user namespace */
	__u32 uid;   /* the namespace's owner */
	__u32 gid;
	__u32 inum;
};

/* The bytes of a cred arg (VIGIL_ARG_CRED) in a VIGIL_OP_GENERIC record. */
struct vigil_cred_arg {
	struct vigil_creds creds;
	struct vigil_caps caps;
	__u32 securebits;
	struct vigil_userns userns;
	__u32 pad0;
};

/* A BPF program being loaded or loaded: a bpf_attr arg (BPF_PROG_LOAD's
 * fields of union bpf_attr) or a bpf_prog arg (struct bpf_prog). */
struct vigil_bpf_prog_arg {
	__u32 prog_type; /* enum bpf_prog_type */
	__u32 insn_cnt;
	char name[16];   /* BPF_OBJ_NAME_LEN, NUL-padded */
};

/* A bpf_map arg (struct bpf_map). */
struct vigil_bpf_map_arg {
	__u32 map_type; /* enum bpf_map_type */
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	char name[16];  /* BPF_OBJ_NAME_LEN, NUL-padded */
};

/* A perf_event arg (struct perf_event's attr). kprobe_func is the string
 * attr.kprobe_func points to in the caller's memory: a kprobe PMU event's
 * function, read while its perf_event_open(2) runs; empty otherwise. */
struct vigil_perf_event_arg {
	__u64 config;
	__u64 probe_offset;
	__u32 type;      /* PERF_TYPE_*, or a dynamic PMU's type */
	__u32 pad0;
	char kprobe_func[64];
};

enum vigil_module_flag {
	VIGIL_MODULE_SIG_KNOWN = 1 << 0, /* sig_ok was read (CONFIG_MODULE_SIG) */
};

/* A module (struct module) or load_info (struct load_info) arg. */
struct vigil_module_arg {
	__u64 taints;   /* 1 << TAINT_* bits the module sets */
	__u8 flags;     /* enum vigil_module_flag */
	__u8 sig_ok;    /* its signature verified (with VIGIL_MODULE_SIG_KNOWN) */
	__u8 pad0[6];
	char name[56];  /* MODULE_NAME_LEN, NUL-padded */
};

/* A network argument in a VIGIL_OP_GENERIC record (sock, socket,
 * sockaddr, skb args), arg_len = sizeof. A sockaddr's address and port are
 * saddr and sport, as Tetragon's SAddr and SPort filters see them; an
 * AF_UNIX sockaddr's sun_path follows (arg_len = sizeof + up to
 * VIGIL_NET_UNIX_PATH). */
struct vigil_net_arg {
	__u8 saddr[16];  /* network order; IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u64 cookie;    /* sock: the struct sock's address, as Tetragon's cookie */
	__u32 mark;
	__u32 priority;
	__u32 hash;      /* skb */
	__u32 len;       /* skb */
	__u16 family;    /* AF_INET, AF_INET6, ... */
	__u16 type;      /* sock: SOCK_STREAM, ... */
	__u16 protocol;  /* IPPROTO_TCP, ... */
	__u16 sport;     /* host order */
	__u16 dport;     /* host order */
	__u8 state;      /* sock: TCP_ESTABLISHED, ... */
	__u8 pad0;
	__u32 pad1;
};


/* Value of the in-kernel process map, keyed by thread group id. */
struct vigil_process_entry {
	struct vigil_process_id proc;
	struct vigil_process_id parent;
	__u32 flags;
	__u32 nspid;   /* its pid in its own pid namespace */
	__u64 follow;  /* matchBinaries followChildren: bit i set when it or an
			* ancestor executed a binary of the filter given bit i */
	/* At its exec (a fork: its parent's), for matchCapabilityChanges and
	 * matchNamespaceChanges. */
	struct vigil_caps caps;
	__u32 ns[VIGIL_NS_TYPES]; /* namespace inode numbers; 0: unknown */
};

/* Value of the binaries map (companion of the process map, same key): the
 * first VIGIL_BINARY_MAX bytes of the process's binary path, for
 * matchBinaries selectors. len is the full length, which may be larger. */
struct vigil_binary {
	__u32 len;
	__u32 pad0;
	char path[VIGIL_BINARY_MAX];
};

#endif
