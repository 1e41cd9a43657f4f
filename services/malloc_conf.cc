// jemalloc's options, for every program that links hub_allocator: hubd, and
// the benchmarks, which must allocate as hubd does (projector_bench ran a
// fifth slower without them: without jemalloc's own thread, memory freed
// by a batch went back to the system on the projector's threads and came
// back as page faults).
#ifdef HUB_JEMALLOC
// Freed memory goes back to the system from jemalloc's own thread, also while
// hubd is idle after a rebuild (otherwise only as later allocations pass by).
// MALLOC_CONF in the environment adds to or overrides this.
const char* malloc_conf = "background_thread:true";
#endif
