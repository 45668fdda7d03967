// genn_eventprop/codegen/runtime/profile.h: timers around the blocks of forward() and backward(), compiled in
// only with -DGEP_PROFILE (NativeBackend(profile=True); benchmarks/profile_native.py prints the table).
//
// Network-independent C++ of the native backend. codegen/cpp_runtime.py pastes the text below the marker line
// into every generated network.cpp, so that file stays one self-contained translation unit, exactly the code
// that runs. Above the marker, standalone.h stands in for what network.cpp defines before it.
//
// Without GEP_PROFILE the macros are empty: the code that runs is the same as without this header, and
// gep_profile() reports no blocks. With it, each timed block adds the processor's time-stamp counter difference
// to its thread's Workspace (ws.prof), and gep_run() adds every worker's counts to the totals when it ends, so
// the timers cost a counter read per block and nothing shared per event.
#pragma once
#include "standalone.h"
#include <atomic>
#include <chrono>
// ---- network.cpp from here ----
enum ProfileBlock {
    PROF_FREE_STEP,      // forward: every population's free flow over the step and the bounds of g
    PROF_INPUT,          // forward: the step's input spikes delivered to their targets (exact: their jumps)
    PROF_SEARCH,         // forward: the sweep through the step's events, the flagged neurons' exact crossing times
    PROF_COMMIT,         // forward: a spike committed: the flow to it, its reset, its outgoing jumps
    PROF_ADJOINT_STEP,   // backward: the adjoint flow over the step and the step's jumps carried to its start
    PROF_INPUT_GRAD,     // backward: an input spike's gradient row (and parameters' share)
    PROF_SPIKE_GRAD,     // backward: a network spike's gradient rows, its error and its adjoint jump
    PROF_TRIAL,          // one trial's forward, readout, loss and backward, whole
    PROF_REDUCE,         // the per-trial gradients summed over the batch
    PROF_BLOCKS
};
#ifdef GEP_PROFILE
#if defined(__x86_64__) || defined(__i386__)
static inline unsigned long long profile_ticks() { return __builtin_ia32_rdtsc(); }
#else
static inline unsigned long long profile_ticks() {
    return (unsigned long long)std::chrono::steady_clock::now().time_since_epoch().count();
}
#endif
static std::atomic<unsigned long long> profile_totals[PROF_BLOCKS];
#define PROFILE_START(name) const unsigned long long name = profile_ticks()
#define PROFILE_ADD(counts, block, start) ((counts)[block] += profile_ticks() - (start))
// a running mark: PROFILE_LAP gives the time since the mark to a block and moves the mark on (blocks that alternate)
#define PROFILE_MARK(name) unsigned long long name = profile_ticks()
#define PROFILE_LAP(counts, block, mark) do { const unsigned long long now_ = profile_ticks(); \
    (counts)[block] += now_ - (mark); (mark) = now_; } while (0)
#define PROFILE_MERGE(counts) do { for (int b_ = 0; b_ < PROF_BLOCKS; b_++) \
    profile_totals[b_].fetch_add((counts)[b_], std::memory_order_relaxed); } while (0)
#else
#define PROFILE_START(name) do {} while (0)
#define PROFILE_ADD(counts, block, start) do {} while (0)
#define PROFILE_MARK(name) do {} while (0)
#define PROFILE_LAP(counts, block, mark) do {} while (0)
#define PROFILE_MERGE(counts) do {} while (0)
#endif
