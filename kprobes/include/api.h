/* What every Vigil BPF program includes: kernel types (CO-RE) and libbpf's helpers. */
#ifndef VIGIL_API_H
#define VIGIL_API_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define VIGIL_CONTAINER_OF(ptr, type, member) \
	((type *)((void *)(ptr) - bpf_core_field_offset(type, member)))

#endif
