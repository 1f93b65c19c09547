/* The in-kernel process map: thread group id -> identity of its current
 * image (pid + exec/clone ktime) and of its parent. The process sensor
 * keeps it; every other program reads it to give its records a process.
 * Its companion, vigil_binaries, holds each process's binary path for
 * matchBinaries selectors (written at exec and fork, and by the agent for
 * the processes it finds in /proc). vigil_follow maps the binaries of
 * matchBinaries followChildren filters to their bits in the process
 * entry's follow mask (written by the agent, read at exec). */
#ifndef VIGIL_PROCESS_MAP_H
#define VIGIL_PROCESS_MAP_H

#include "events.h"
#include "generic_config.h"

#define VIGIL_PROCESS_MAP_SIZE 65536

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_PROCESS_MAP_SIZE);
	__type(key, __u32);
	__type(value, struct vigil_process_entry);
} vigil_processes SEC(".maps");

/* Allocated per entry: most processes never meet a binary filter. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_PROCESS_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct vigil_binary);
} vigil_binaries SEC(".maps");

#define VIGIL_FOLLOW_MAP_SIZE 16384

/* Key: struct vigil_string_key with id 0 (the binary's path); value: the
 * followChildren bits of the filters naming it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_FOLLOW_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_string_key);
	__type(value, __u64);
} vigil_follow SEC(".maps");

static __always_inline struct vigil_process_entry *vigil_process_lookup(__u32 tgid)
{
	return bpf_map_lookup_elem(&vigil_processes, &tgid);
}

/* The identity of tgid, or {tgid, 0} when the map has none. */
static __always_inline void vigil_process_id_of(__u32 tgid, struct vigil_process_id *id)
{
	struct vigil_process_entry *e = vigil_process_lookup(tgid);

	id->pid = tgid;
	id->pad0 = 0;
	id->ktime = e ? e->proc.ktime : 0;
}

#endif
