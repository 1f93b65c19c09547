/* The ring buffer every program writes to, and per-program counters.
 *
 * Both maps are shared by all of Vigil's objects: the loader creates them
 * once and hands the same fds to every object it opens. A record that
 * cannot be reserved is never dropped silently: it is counted as lost
 * against the program's slot, and the agent reports the count.
 */
#ifndef VIGIL_OUTPUT_H
#define VIGIL_OUTPUT_H

#include "events.h"

#define VIGIL_COUNTER_SLOTS 1024

struct vigil_counter {
	__u64 emitted;
	__u64 lost;
	__u64 undecided; /* generic hooks: calls with an arg that could not be read */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} vigil_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, struct vigil_counter);
} vigil_counters SEC(".maps");

static __always_inline void vigil_count(__u32 slot, long err)
{
	struct vigil_counter *c = bpf_map_lookup_elem(&vigil_counters, &slot);

	if (!c)
		return;
	if (err)
		c->lost++;
	else
		c->emitted++;
}

static __always_inline void vigil_count_undecided(__u32 slot)
{
	struct vigil_counter *c = bpf_map_lookup_elem(&vigil_counters, &slot);

	if (c)
		c->undecided++;
}

/* Fills the common header and sends size bytes of rec. */
static __always_inline long vigil_emit(void *rec, __u64 size, __u8 op, __u32 slot)
{
	struct vigil_msg_header *hdr = rec;
	long err;

	hdr->op = op;
	hdr->pad0 = 0;
	hdr->size = size;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->ktime = bpf_ktime_get_ns();
	err = bpf_ringbuf_output(&vigil_events, rec, size, 0);
	vigil_count(slot, err);
	return err;
}

#endif
