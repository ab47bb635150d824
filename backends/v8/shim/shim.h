/*
 * unitlab V8 shim: a small C ABI over the V8 C++ API of Debian's libnode (V8 10.2).
 *
 * Built by build.rs as a shared library (libunitlab_v8_shim.so) linked against libnode with an
 * rpath, and loaded by the Rust side with dlopen, so that a binary that contains the `v8`
 * backend still starts on a machine without libnode (the backend then reports Unavailable).
 *
 * Ownership: the Rust side owns every ul_unit (ul_unit_free disposes it). Error strings are
 * malloc'ed by the shim and returned through `char **err`; free them with ul_string_free.
 * Thread safety: every function that touches an isolate takes a v8::Locker, so one unit may
 * be used from any thread (one thread at a time); different units run in parallel.
 */
#ifndef UNITLAB_V8_SHIM_H
#define UNITLAB_V8_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes returned by the functions below. */
#define UL_OK 0
#define UL_ERR_GUEST 1    /* a JS exception (syntax error, throw, bad return value) */
#define UL_ERR_DEADLINE 2 /* stopped by the watchdog after deadline_ns */
#define UL_ERR_MEMORY 3   /* V8 heap or ArrayBuffer budget exhausted; the isolate is disposed */
#define UL_ERR_STATE 4    /* misuse: unit already disposed, phase out of order */

/* Bumped whenever a signature below changes; checked by the Rust side after dlopen. */
#define UL_ABI_VERSION 4
uint32_t ul_abi_version(void);

/*
 * Initializes V8 once per process (std::call_once): sets `flags` (V8 command-line flags, e.g.
 * "--no-verify-snapshot-checksum"; NULL or "" for none), then the platform. If `anchor` is
 * non-zero, also creates one idle "anchor" isolate that lives until the process exits: V8
 * shares its read-only heap among the live isolates of a process and tears it down with the
 * last one, so without a live isolate every Isolate::New deserializes the read-only space
 * again (a running runtime always has live isolates). Later calls do nothing and their
 * arguments are ignored. Returns the flags that were applied (static storage); see
 * ul_anchored for the anchor.
 */
const char *ul_init(const char *flags, int anchor);

/* 1 if ul_init created the anchor isolate, else 0. */
int ul_anchored(void);

/* V8's version string, e.g. "10.2.154.26-node.37". Static storage, do not free. */
const char *ul_v8_version(void);

/* Frees an error string or code cache returned by this shim. NULL is fine. */
void ul_string_free(char *s);

typedef struct ul_unit ul_unit;

/*
 * Phase `isolate`: a new isolate with its own ArrayBuffer allocator.
 * heap_limit_bytes: 0 = V8's default; else the V8 heap (young + old generation) is capped at
 * this size and, separately, the live ArrayBuffer backing stores are capped at the same size.
 * Never returns NULL (V8 aborts the process if it cannot create an isolate).
 */
ul_unit *ul_unit_new(uint64_t heap_limit_bytes);

/* Phase `context`: a fresh context (global object) in the unit's isolate. */
int ul_unit_context(ul_unit *u, char **err);

/*
 * Phase `compile`: compiles `src` (len bytes of UTF-8) as a classic script named `name` and
 * runs its top level in the unit's context. deadline_ns = 0: no deadline.
 * cache/cache_len: V8 code cache for exactly this source (from ul_unit_code_cache), or
 * NULL/0 to compile from source. V8 checks the cache (V8 version, flags, source) and compiles
 * from source if it rejects it; *cache_rejected (if not NULL) is then set to 1, else to 0.
 */
int ul_unit_run_script(ul_unit *u, const char *src, size_t len, const char *name,
                       const uint8_t *cache, size_t cache_len, int *cache_rejected,
                       uint64_t deadline_ns, char **err);

/*
 * Compiles `src` eagerly (all its functions) in the unit's context without running it and
 * returns V8's code cache for it in *out (malloc'ed, *out_len bytes; free with
 * ul_string_free). The script must already have compiled once (no syntax error).
 */
int ul_unit_code_cache(ul_unit *u, const char *src, size_t len, const char *name,
                       uint8_t **out, size_t *out_len, char **err);

/* Looks up the global function `name` and keeps it as the unit's handler. */
int ul_unit_set_handler(ul_unit *u, const char *name, char **err);

/*
 * Calls handler(size, seed). The result must be a JS number; it is converted with ToUint32
 * (i.e. `v >>> 0`) into *out. *guest_ns gets the time spent in the call.
 * deadline_ns = 0: no deadline.
 */
int ul_unit_invoke(ul_unit *u, uint32_t size, uint32_t seed, uint64_t deadline_ns,
                   uint32_t *out, uint64_t *guest_ns, char **err);

/* Heap statistics of the unit's isolate. All zero if the isolate was disposed. */
typedef struct ul_heap_stats {
  uint64_t used_heap;      /* HeapStatistics::used_heap_size */
  uint64_t total_heap;     /* HeapStatistics::total_heap_size */
  uint64_t physical;       /* HeapStatistics::total_physical_size */
  uint64_t external;       /* HeapStatistics::external_memory */
  uint64_t malloced;       /* HeapStatistics::malloced_memory */
  uint64_t heap_limit;     /* HeapStatistics::heap_size_limit */
  uint64_t array_buffers;  /* live bytes in this unit's ArrayBuffer allocator */
} ul_heap_stats;
int ul_unit_heap_stats(ul_unit *u, ul_heap_stats *out);

/* Disposes the isolate (if still alive) and frees the unit. NULL is fine. */
void ul_unit_free(ul_unit *u);

#ifdef __cplusplus
}
#endif

#endif /* UNITLAB_V8_SHIM_H */
