// jemalloc's options, for every program that links hub_allocator: hubd, and
// the benchmarks, which must allocate as hubd does (projector_bench ran a
// fifth slower without them: without jemalloc's own thread, memory freed
// by a batch went back to the system on the projector's threads and came
// back as page faults).
#ifdef HUB_JEMALLOC
// Freed memory goes back to the system from jemalloc's own thread, also while
// hubd is idle after a rebuild (otherwise only as later allocations pass by).
// One arena rather than jemalloc's four per core: memory one thread frees is
// reused by every other, where with eight arenas it sat free in the arena of
// the thread that freed it (hub_bench with 430k events: peak resident 563
// MiB with two arenas, 613 with eight, 459 with one; the projector's
// rebuild rate and publish_16 were unchanged, the threads' own caches
// keeping the arena's lock rare on two cores).
// Freed pages are returned within a quarter of a second rather than ten:
// under a rebuild's churn, ten seconds of freed batches stayed resident
// (jemalloc's own figures at hubd's peak: 513 MiB resident for 393 MiB in
// use). hub_bench at 1,000 cases: peak 478 MiB against 515-552 with the
// default, resident after the rebuild 191 MiB against 408, the rebuild,
// publish and timeline rates unchanged; purging at once (0) halved the
// rebuild rate and multiplied live delivery's p99.
// MALLOC_CONF in the environment adds to or overrides this.
const char* malloc_conf = "background_thread:true,narenas:1,dirty_decay_ms:250";
#endif
