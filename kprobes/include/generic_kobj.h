/* Kernel objects in the generic hook pipeline, each read into its fixed
 * record struct (events.h): a BPF program being loaded (union bpf_attr)
 * or loaded (struct bpf_prog), a BPF map, a perf event, a kernel module
 * (struct module, or struct load_info while it loads); a net_device as
 * its name. Fields a kernel lacks read as zero (CO-RE). */
#ifndef VIGIL_GENERIC_KOBJ_H
#define VIGIL_GENERIC_KOBJ_H

#include "generic_state.h"

/* Fields only some kernels have: sig_ok with CONFIG_MODULE_SIG; load_info
 * is kernel/module's own struct, absent from some kernels' BTF. */
struct module___sig {
	bool sig_ok;
} __attribute__((preserve_access_index));

struct load_info___vigil {
	const char *name;
	struct module *mod;
	bool sig_ok;
} __attribute__((preserve_access_index));

/* Copies n bytes of the filled struct v to data[pos], if room. */
static __always_inline __u32 put_fixed(struct vigil_generic_scratch *s, __u32 pos, __u32 room, const void *v, __u32 n,
				       __u8 *flags)
{
	if (room < n) {
		*flags |= VIGIL_ARG_TRUNCATED;
		return 0;
	}
	bpf_probe_read_kernel(&s->data[pos & ARGS_DATA_MASK], n & 0xff, v);
	return n;
}

static __always_inline __u32 put_bpf_attr(struct vigil_generic_scratch *s, __u32 pos, __u32 room,
					  const union bpf_attr *attr, __u8 *flags)
{
	struct vigil_bpf_prog_arg p = {};

	if (!attr) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	p.prog_type = BPF_CORE_READ(attr, prog_type);
	p.insn_cnt = BPF_CORE_READ(attr, insn_cnt);
	bpf_core_read(&p.name, sizeof(p.name), &attr->prog_name);
	return put_fixed(s, pos, room, &p, sizeof(p), flags);
}

static __always_inline __u32 put_bpf_prog(struct vigil_generic_scratch *s, __u32 pos, __u32 room,
					  const struct bpf_prog *prog, __u8 *flags)
{
	struct vigil_bpf_prog_arg p = {};

	if (!prog) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	p.prog_type = BPF_CORE_READ(prog, type);
	p.insn_cnt = BPF_CORE_READ(prog, len);
	BPF_CORE_READ_STR_INTO(&p.name, prog, aux, name);
	return put_fixed(s, pos, room, &p, sizeof(p), flags);
}

static __always_inline __u32 put_bpf_map(struct vigil_generic_scratch *s, __u32 pos, __u32 room,
					 const struct bpf_map *map, __u8 *flags)
{
	struct vigil_bpf_map_arg m = {};

	if (!map) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	m.map_type = BPF_CORE_READ(map, map_type);
	m.key_size = BPF_CORE_READ(map, key_size);
	m.value_size = BPF_CORE_READ(map, value_size);
	m.max_entries = BPF_CORE_READ(map, max_entries);
	bpf_core_read(&m.name, sizeof(m.name), &map->name);
	return put_fixed(s, pos, room, &m, sizeof(m), flags);
}

static __always_inline __u32 put_perf_event(struct vigil_generic_scratch *s, __u32 pos, __u32 room,
					    const struct perf_event *ev, __u8 *flags)
{
	struct vigil_perf_event_arg p = {};
	__u64 func;

	if (!ev) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	p.type = BPF_CORE_READ(ev, attr.type);
	p.config = BPF_CORE_READ(ev, attr.config);
	p.probe_offset = BPF_CORE_READ(ev, attr.probe_offset);
	func = BPF_CORE_READ(ev, attr.kprobe_func);
	/* A user pointer only while the caller's perf_event_open(2) runs; elsewhere it reads as empty. */
	if (func && bpf_probe_read_user_str(&p.kprobe_func, sizeof(p.kprobe_func), (const void *)func) < 0)
		p.kprobe_func[0] = 0;
	return put_fixed(s, pos, room, &p, sizeof(p), flags);
}

static __always_inline __u32 put_module(struct vigil_generic_scratch *s, __u32 pos, __u32 room, struct module *mod,
					__u8 *flags)
{
	struct module___sig *sig = (void *)mod;
	struct vigil_module_arg m = {};

	if (!mod) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	bpf_core_read_str(&m.name, sizeof(m.name), &mod->name);
	m.taints = BPF_CORE_READ(mod, taints);
	if (bpf_core_field_exists(sig->sig_ok)) {
		m.sig_ok = BPF_CORE_READ(sig, sig_ok);
		m.flags = VIGIL_MODULE_SIG_KNOWN;
	}
	return put_fixed(s, pos, room, &m, sizeof(m), flags);
}

static __always_inline __u32 put_load_info(struct vigil_generic_scratch *s, __u32 pos, __u32 room,
					   struct load_info___vigil *info, __u8 *flags)
{
	struct vigil_module_arg m = {};
	struct module *mod;

	if (!info || !bpf_core_type_exists(struct load_info___vigil)) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	bpf_probe_read_kernel_str(&m.name, sizeof(m.name), BPF_CORE_READ(info, name));
	mod = BPF_CORE_READ(info, mod);
	if (mod)
		m.taints = BPF_CORE_READ(mod, taints);
	if (bpf_core_field_exists(info->sig_ok)) {
		m.sig_ok = BPF_CORE_READ(info, sig_ok);
		m.flags = VIGIL_MODULE_SIG_KNOWN;
	}
	return put_fixed(s, pos, room, &m, sizeof(m), flags);
}

/* A net_device's name: IFNAMSIZ bytes at most, without NUL. */
static __always_inline __u32 put_net_device(struct vigil_generic_scratch *s, __u32 pos, __u32 room,
					    const struct net_device *dev, __u8 *flags)
{
	char name[16] = {};
	long n;

	if (!dev) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	n = bpf_core_read_str(name, sizeof(name), &dev->name);
	if (n <= 1)
		return 0;
	return put_fixed(s, pos, room, name, (n - 1) & 0xf, flags);
}

#endif
