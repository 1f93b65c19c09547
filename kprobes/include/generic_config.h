/* Per-hook configuration of the generic hook programs (generic.h).
 *
 * The agent writes struct vigil_hook_config into each hook object's
 * rodata (`vigil_hook`) before load, and the values of its filters into
 * the object's value maps after load: a filter holds at most one inline
 * value, so no program loops over a value list. The format is
 * written out above its encoder, policies/compiler/encode.ts, and the
 * TS side reads its offsets from this header's BTF
 * (agent/events/layouts.generated.ts). Plain fixed-width types only.
 */
#ifndef VIGIL_GENERIC_CONFIG_H
#define VIGIL_GENERIC_CONFIG_H

#include "events.h"

enum vigil_config_limits {
	VIGIL_SELECTORS_MAX = 64,      /* selectors of one program: a hook group's members' together */
	VIGIL_HOOK_SELECTORS_MAX = 32, /* selectors of one policy's hook */
	VIGIL_MEMBERS_MAX = 64,        /* hooks in one group (struct vigil_member) */
	VIGIL_GROUP_SLOTS = 256,       /* groups an agent runs at once (vigil_group_gen) */
	VIGIL_SEL_ARGS_MAX = 8,       /* matchArgs filters per selector */
	VIGIL_SEL_PIDS_MAX = 4,       /* matchPIDs filters per selector */
	VIGIL_SEL_BINS_MAX = 4,       /* matchBinaries and matchParentBinaries filters per selector */
	VIGIL_SEL_CAPS_MAX = 2,       /* matchCapabilities and matchCapabilityChanges filters per selector */
	VIGIL_STRING_KEY_MAX = 256,   /* Equal / In: longest string value */
	VIGIL_SYSCALLS_MAX = 512,     /* syscall numbers dispatched on raw_syscalls/sys_enter */
	VIGIL_LPM_DATA_MAX = 252,     /* Prefix / Postfix: longest value (the kernel's LPM data limit, 256, less the id) */
	VIGIL_SUBSTR_LEN_MAX = 32,    /* SubString: longest value */
	VIGIL_SUBSTR_WORDS = 4,       /* ... in 8-byte words */
	VIGIL_SUBSTR_VALUES_MAX = 8,  /* SubString: values of one filter */
	VIGIL_SCOPE_LEVELS = 16,         /* scope.h: the deepest cgroup level a scope's cgroups may sit at */
	VIGIL_SCOPE_CGROUPS_MAX = 16384, /* scope.h: cgroups in one policy's scope */
};

/* Selectors as bits, one per index. */
typedef __u64 vigil_selmask_t;

/* How an argument is read (struct vigil_arg_config.kind). */
enum vigil_arg_kind {
	VIGIL_ARG_INT = 1,    /* size bytes, sign-extended when VIGIL_SRC_SIGNED */
	VIGIL_ARG_STRING = 2, /* NUL-terminated char * */
	VIGIL_ARG_FD = 3,     /* file descriptor of the current task -> path */
	VIGIL_ARG_FILE = 4,   /* struct file * -> path */
	VIGIL_ARG_PATH = 5,   /* struct path * -> path */
	VIGIL_ARG_BINPRM = 6, /* struct linux_binprm * -> path of its file */
	VIGIL_ARG_DENTRY = 7, /* struct dentry * -> path within its mount */
	VIGIL_ARG_DATA_LOC = 8, /* a tracepoint's __data_loc field -> the string it locates in the record */
	/* 20-29: buffers and credentials (generic_buf.h, generic_cred.h) */
	VIGIL_ARG_CHAR_BUF = 20,   /* char * of size_arg's value (or the return value) bytes -> u64 size, bytes */
	VIGIL_ARG_CHAR_IOVEC = 21, /* struct iovec * of size_arg's value entries -> u64 total size, bytes */
	VIGIL_ARG_CRED = 22,       /* struct cred * -> struct vigil_cred_arg */
	/* 30-39: other kernel objects (generic_kobj.h) */
	VIGIL_ARG_BPF_ATTR = 30,   /* union bpf_attr * -> struct vigil_bpf_prog_arg */
	VIGIL_ARG_BPF_PROG = 31,   /* struct bpf_prog * -> struct vigil_bpf_prog_arg */
	VIGIL_ARG_BPF_MAP = 32,    /* struct bpf_map * -> struct vigil_bpf_map_arg */
	VIGIL_ARG_PERF_EVENT = 33, /* struct perf_event * -> struct vigil_perf_event_arg */
	VIGIL_ARG_USERNS = 34,     /* struct user_namespace * -> struct vigil_userns */
	VIGIL_ARG_MODULE = 35,     /* struct module * -> struct vigil_module_arg */
	VIGIL_ARG_LOAD_INFO = 36,  /* struct load_info * -> struct vigil_module_arg */
	VIGIL_ARG_NET_DEVICE = 37, /* struct net_device * -> its name */
	/* Network args (generic_net.h) -> struct vigil_net_arg */
	VIGIL_ARG_SOCK = 10,     /* struct sock * */
	VIGIL_ARG_SOCKET = 11,   /* struct socket * -> its sock */
	VIGIL_ARG_SOCKADDR = 12, /* struct sockaddr *, user memory when VIGIL_SRC_USER */
	VIGIL_ARG_SKB = 13,      /* struct sk_buff * -> its IP and TCP/UDP headers */
};

enum vigil_arg_source_flag {
	VIGIL_SRC_SIGNED = 1 << 0,    /* integer: sign-extend from size */
	VIGIL_SRC_USER = 1 << 1,      /* string: user memory (syscall arguments) */
	VIGIL_SRC_CTX_FIELD = 1 << 2, /* tracepoint: read size bytes at offset in the record */
	VIGIL_SRC_RETURN_COPY = 1 << 5, /* return probes: read at return (char_buf of read(2)) */
	VIGIL_SRC_MAX_DATA = 1 << 6,    /* buffers: up to the record's room, not VIGIL_ARG_BYTES_MAX */
};

struct vigil_arg_config {
	__u8 kind;     /* enum vigil_arg_kind */
	__u8 size;     /* bytes of the raw value: 1, 2, 4 or 8 */
	__u8 flags;    /* enum vigil_arg_source_flag */
	__u8 index;    /* function or syscall argument index */
	__u16 offset;  /* VIGIL_SRC_CTX_FIELD: the field's offset in the tracepoint record */
	__u8 size_arg; /* buffers: 1 + the position in args of the size or count; 0: none (returnCopy char_buf: the return value) */
	__u8 pad0;
};

/* Filter operators (matchArgs, matchPIDs, matchBinaries). */
enum vigil_filter_op {
	VIGIL_FOP_EQ = 1,          /* Equal, In */
	VIGIL_FOP_NEQ = 2,         /* NotEqual, NotIn */
	VIGIL_FOP_PREFIX = 3,
	VIGIL_FOP_NOT_PREFIX = 4,
	VIGIL_FOP_POSTFIX = 5,
	VIGIL_FOP_NOT_POSTFIX = 6,
	VIGIL_FOP_GT = 7,
	VIGIL_FOP_LT = 8,
	VIGIL_FOP_MASK = 9,
	VIGIL_FOP_IN_RANGE = 10,     /* InMap, InRange: integer values and ranges in vigil_net_lpm */
	VIGIL_FOP_NOT_IN_RANGE = 11, /* NotInMap, NotInRange */
	VIGIL_FOP_SUBSTR = 12,       /* SubString: the filter's values in vigil_str_sub */
	VIGIL_FOP_SUBSTR_ICASE = 13, /* SubStringIgnCase: the same, lowercased; the arg is folded as it is read */
	VIGIL_FOP_FILE_TYPE = 14,     /* FileType: value has bit (i_mode >> 12) of the file's type */
	VIGIL_FOP_NOT_FILE_TYPE = 15, /* NotFileType */
	/* 60-: credentials */
	VIGIL_FOP_CAPS_GAINED = 60, /* cred: the new permitted set gains one of value's bits over the task's */
	/* Network ops on VIGIL_ARG_SOCK..SKB (generic_net_filter.h). Addresses
	 * and ports: the filter's id in vigil_net_lpm; Protocol, Family,
	 * State: its id in vigil_int_eq; *_PRIV: port < 1024, no values. */
	VIGIL_FOP_SADDR = 20,
	VIGIL_FOP_NOT_SADDR = 21,
	VIGIL_FOP_DADDR = 22,
	VIGIL_FOP_NOT_DADDR = 23,
	VIGIL_FOP_SPORT = 24,
	VIGIL_FOP_NOT_SPORT = 25,
	VIGIL_FOP_DPORT = 26,
	VIGIL_FOP_NOT_DPORT = 27,
	VIGIL_FOP_SPORT_PRIV = 28,
	VIGIL_FOP_NOT_SPORT_PRIV = 29,
	VIGIL_FOP_DPORT_PRIV = 30,
	VIGIL_FOP_NOT_DPORT_PRIV = 31,
	VIGIL_FOP_PROTOCOL = 32,
	VIGIL_FOP_FAMILY = 33,
	VIGIL_FOP_STATE = 34,
};

struct vigil_arg_filter {
	__u8 arg;     /* position in vigil_hook_config.args */
	__u8 op;      /* enum vigil_filter_op */
	__u16 id;     /* map-backed values (Equal, NotEqual, strings): the filter's id in its map */
	__u32 pad0;
	__u64 value;  /* GT: the smallest value; LT: the largest; Mask: the masks ORed */
};

enum vigil_pid_flag {
	VIGIL_PID_FOLLOW_FORKS = 1 << 0, /* an ancestor's pid matches too */
	VIGIL_PID_NAMESPACE = 1 << 1,    /* compare the pid in the task's pid namespace */
};

struct vigil_pid_filter {
	__u8 op;     /* VIGIL_FOP_EQ (In) or VIGIL_FOP_NEQ (NotIn) */
	__u8 flags;  /* enum vigil_pid_flag */
	__u16 id;    /* its pids are in the integer map under this id */
};

/* struct vigil_bin_filter.flags: the low 6 bits are the followChildren
 * bit (in struct vigil_process_entry.follow) when VIGIL_BIN_FOLLOW is set. */
enum vigil_bin_flag {
	VIGIL_BIN_FOLLOW_BIT = 0x3f,
	VIGIL_BIN_FOLLOW = 1 << 6, /* followChildren: a descendant of a match matches */
	VIGIL_BIN_PARENT = 1 << 7, /* matchParentBinaries: the parent's binary */
};

struct vigil_bin_filter {
	__u8 op;     /* EQ (In), NEQ (NotIn), [NOT_]PREFIX, [NOT_]POSTFIX */
	__u8 flags;  /* enum vigil_bin_flag */
	__u16 id;    /* its paths are in the string maps under this id */
};

/* struct vigil_cap_filter.set: the index of the set in struct vigil_caps. */
enum vigil_cap_set {
	VIGIL_CAP_PERMITTED = 0,
	VIGIL_CAP_EFFECTIVE = 1,
	VIGIL_CAP_INHERITABLE = 2,
};

enum vigil_cap_flag {
	VIGIL_CAP_NAMESPACE = 1 << 0, /* isNamespaceCapability: only outside the initial user namespace */
	VIGIL_CAP_CHANGES = 1 << 1,   /* matchCapabilityChanges: against the set at exec */
};

/* matchCapabilities: In, the set holds one of mask's capabilities; NotIn,
 * none. With VIGIL_CAP_CHANGES: In, one of mask's changed since exec;
 * NotIn, only others did. */
struct vigil_cap_filter {
	__u8 set;   /* enum vigil_cap_set */
	__u8 op;    /* VIGIL_FOP_EQ (In) or VIGIL_FOP_NEQ (NotIn) */
	__u8 flags; /* enum vigil_cap_flag */
	__u8 pad0;
	__u32 pad1;
	__u64 mask; /* 1 << CAP_* */
};

enum vigil_rate_scope {
	VIGIL_RATE_THREAD = 0,  /* identical args from the same thread */
	VIGIL_RATE_PROCESS = 1, /* ... from the same process */
	VIGIL_RATE_GLOBAL = 2,  /* ... from anywhere */
};

struct vigil_selector_action {
	__u8 action;     /* enum vigil_action, reported in the record */
	__u8 post;       /* 0: NoPost */
	__u8 signal;     /* sent to the current task; 0: none */
	__u8 override;   /* 1: the hook returns error */
	__s32 error;
	__u64 rate_ns;   /* Post rateLimit window; 0: none */
	__u8 rate_scope; /* enum vigil_rate_scope */
	__u8 pad0[7];
};

struct vigil_selector {
	__u8 nargs;
	__u8 npids;
	__u8 nbins;
	__u8 ncaps;
	/* matchNamespaces, one bit per enum vigil_ns_type: the types whose
	 * inode number must be (ns_in) or must not be (ns_notin) one of the
	 * values of filter ns_id in vigil_int_eq, keyed type << 32 | inum. */
	__u16 ns_in;
	__u16 ns_notin;
	__u16 ns_id;
	__u16 ns_changes; /* matchNamespaceChanges: one of these types differs from exec's */
	__u8 member;      /* the hook (struct vigil_member) whose selector this is */
	__u8 local;       /* its index in that hook's selectors, reported in the record */
	__u16 pad0;
	struct vigil_arg_filter args[VIGIL_SEL_ARGS_MAX];
	struct vigil_pid_filter pids[VIGIL_SEL_PIDS_MAX];
	struct vigil_bin_filter bins[VIGIL_SEL_BINS_MAX];
	struct vigil_cap_filter caps[VIGIL_SEL_CAPS_MAX];
	struct vigil_selector_action act;
};

/* A hook of a group: one program runs the selectors of several policies'
 * hooks on one function or tracepoint (generic.h), and each selector's
 * record, counters and reported index are its hook's. */
struct vigil_member {
	__u32 hook_id;
	__u32 slot;
};

struct vigil_hook_config {
	__u32 hook_id;  /* copied into every record (a group's: members[].hook_id) */
	__u32 slot;     /* counter slot (output.h); a group's: members[].slot */
	__u8 nargs;
	__u8 nselectors; /* 0: post every call */
	__u8 syscall;    /* args are a syscall's: its pt_regs (kprobe, fentry) or args[] (tracepoint) */
	__u8 fail_closed; /* a filter on an unreadable arg matches in selectors that signal or override (generic_undecided.h) */
	__u8 scoped;      /* 1: acts only on tasks whose cgroup is in the policy's scope (scope.h) */
	__u8 file_modes;  /* 1: path args also read their inode's i_mode, for FileType (generic_args.h) */
	__u8 substr;      /* 1: a SubString filter; 0: the verifier drops the search (generic_substr.h) */
	__u8 pad1;
	struct vigil_arg_config args[VIGIL_HOOK_ARGS_MAX];
	struct vigil_selector selectors[VIGIL_SELECTORS_MAX];
	/* A hook group (nmembers > 0): one match per member, each its own
	 * record. The gate: 1 + the arg whose Prefix values, in vigil_gate,
	 * say which selectors may match; ungated: the selectors it cannot rule
	 * out. Only generation gen of group slot group_slot runs
	 * (vigil_group_gen), so a group is swapped for its next version
	 * without a call seen twice or missed. */
	__u8 nmembers;
	__u8 gate_arg;
	__u16 group_slot;
	__u32 generation;
	__u64 ungated;
	struct vigil_member members[VIGIL_MEMBERS_MAX];
};

/* Key of the integer hash map (Equal / NotEqual on integers, matchPIDs):
 * filter id and the value as the filter sees it (sign-extended). */
struct vigil_int_key {
	__u16 id;
	__u16 pad0;
	__u32 pad1;
	__u64 value;
};

/* Key of the Equal / In string hash map: filter id, length, bytes (zero-padded). */
struct vigil_string_key {
	__u16 id;
	__u16 len;
	char s[VIGIL_STRING_KEY_MAX];
};

/* Key of the Prefix and Postfix LPM tries: prefixlen = 8 * (4 + bytes),
 * covering the filter id and the bytes; Postfix values and lookups are
 * reversed. The bytes start 8-aligned, so lookups fill them a word at a time. */
struct vigil_lpm_key {
	__u32 prefixlen;
	__u32 id;
	__u8 data[VIGIL_LPM_DATA_MAX];
};

/* Value of the SubString map under its filter's id (a u32 key): n values,
 * each as words (little-endian loads of its bytes) and the masks of its
 * bytes, zero past its end; len: each value's length in bytes. */
struct vigil_substr_set {
	__u32 n;
	__u8 len[VIGIL_SUBSTR_VALUES_MAX];
	__u32 pad0;
	__u64 words[VIGIL_SUBSTR_VALUES_MAX][VIGIL_SUBSTR_WORDS];
	__u64 masks[VIGIL_SUBSTR_VALUES_MAX][VIGIL_SUBSTR_WORDS];
};

/* Key of the LPM trie of ranges (addresses, ports, integers): data[0..1]
 * the filter id (u16, little-endian), data[2] what follows (enum
 * vigil_net_key_kind), then the address (network order), the port or the
 * integer (big endian; signed ones with the sign bit flipped, so that
 * order is kept); prefixlen = 24 + the prefix bits of what follows. */
enum vigil_net_key_kind {
	VIGIL_NET_KEY_V4 = 4,
	VIGIL_NET_KEY_V6 = 6,
	VIGIL_NET_KEY_INT = 8,
	VIGIL_NET_KEY_PORT = 16,
};

enum vigil_net_key_limits {
	VIGIL_NET_KEY_DATA = 20,
};

struct vigil_net_key {
	__u32 prefixlen;
	__u8 data[VIGIL_NET_KEY_DATA];
};

#endif
