// A persistent pool of worker threads (not OpenMP, whose runtime would fight PyTorch's and
// MKL's inside one process). Work is split by index ranges, never by who runs them, so
// results never depend on the thread count.
#pragma once

#include <cstddef>
#include <functional>

namespace fastinit {

// Threads used by parallel_for: FASTINIT_NUM_THREADS if set, else the CPUs in this process's
// affinity mask.
int get_num_threads();
void set_num_threads(int n);  // n >= 1, else std::invalid_argument

// Calls task(i) for every i in [0, n_tasks), spread over the pool; the caller takes part.
// Runs inline when n_tasks == 1, when one thread is configured, or when the pool is busy
// with another caller's work (nested or concurrent calls), so it never deadlocks.
void parallel_for(std::size_t n_tasks, const std::function<void(std::size_t)>& task);

}  // namespace fastinit
