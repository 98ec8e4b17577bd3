// Where libtorch's OpenMP thread teams live. Which threads run parallel work decides the speed of every
// small parallel region (a batch-1 decode step is ~120 of them, one per linear layer).
//
// libgomp gives every thread that starts a parallel region its own team of worker threads, which lives as
// long as that thread. While the process holds more team threads than it has CPUs, libgomp shortens the
// time a waiting worker spins before it sleeps to almost nothing, so every region must wake its workers
// through the kernel: on the 2-vCPU development VM that cost ~60 us a region, ~7 ms of a 37 ms float32
// SmolLM2 step (a 2-thread team on a Python thread: 17.2 ms for 120 linear layers alone, 24-30 ms while a
// second thread's team existed). The load therefore runs on a thread of its own, whose team is released
// when it ends, and the engine thread's team is the only one a model keeps.
#pragma once

#include <functional>

namespace torchgen {

// Linux thread names (at most 15 characters; OpenMP workers inherit their team's name), so that a test
// or a profiler can tell the engine's threads from the load's.
inline constexpr const char* kEngineThreadName = "torchgen-engine";
inline constexpr const char* kLoadThreadName = "torchgen-load";

// Names the calling thread (no-op where the platform has no thread names).
void NameThisThread(const char* name);

// Gives the calling thread `threads` OpenMP threads, as libtorch asks of every thread it did not start.
void UseOpenMpThreads(int threads);

// Runs `work` on a new thread named `name` with `threads` OpenMP threads and waits for it; rethrows what
// `work` threw. Whatever team the work started ends with that thread.
void RunOnOwnThread(const char* name, int threads, const std::function<void()>& work);

}  // namespace torchgen
