#include "fastinit/thread_pool.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define FASTINIT_HAVE_PTHREAD_ATFORK 1
#endif

namespace fastinit {
namespace {

int cpus_available() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

int default_num_threads() {
  if (const char* env = std::getenv("FASTINIT_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 4096) return static_cast<int>(n);
  }
  return cpus_available();
}

class Pool {
 public:
  explicit Pool(int n_threads) {
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Returns false (and runs nothing) when another job holds the pool.
  bool try_run(std::size_t n_tasks, const std::function<void(std::size_t)>& task) {
    std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
    if (!job_lock.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      n_tasks_ = n_tasks;
      next_.store(0);
      error_ = nullptr;
      busy_workers_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_workers_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  void work() {
    for (;;) {
      const std::size_t i = next_.fetch_add(1);
      if (i >= n_tasks_) return;
      try {
        (*task_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(n_tasks_);  // stop handing out work
      }
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      work();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --busy_workers_;
      }
      done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(std::size_t)>* task_ = nullptr;
  std::size_t n_tasks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::exception_ptr error_;
  int busy_workers_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

// Leaked on purpose: after fork() the child must not join or destroy threads it does not
// have, so it simply forgets the parent's pool and builds a new one on first use.
// Shared ownership lets set_num_threads replace the pool while another thread still runs on it.
std::mutex* g_config_mutex = new std::mutex;
std::shared_ptr<Pool>* g_pool = new std::shared_ptr<Pool>();
int g_num_threads = 0;  // 0: not yet read from the environment

#ifdef FASTINIT_HAVE_PTHREAD_ATFORK
void forget_pool_in_child() {
  g_config_mutex = new std::mutex;
  g_pool = new std::shared_ptr<Pool>();
}
const int g_atfork_registered = pthread_atfork(nullptr, nullptr, forget_pool_in_child);
#endif

int configured_threads_locked() {
  if (g_num_threads == 0) g_num_threads = default_num_threads();
  return g_num_threads;
}

std::shared_ptr<Pool> pool_for_use() {
  std::lock_guard<std::mutex> lock(*g_config_mutex);
  const int n = configured_threads_locked();
  if (n <= 1) return nullptr;
  if (!*g_pool || (*g_pool)->size() != n) *g_pool = std::make_shared<Pool>(n);
  return *g_pool;
}

}  // namespace

int get_num_threads() {
  std::lock_guard<std::mutex> lock(*g_config_mutex);
  return configured_threads_locked();
}

void set_num_threads(int n) {
  if (n < 1) {
    throw std::invalid_argument("num_threads must be >= 1, got " + std::to_string(n));
  }
  std::lock_guard<std::mutex> lock(*g_config_mutex);
  g_num_threads = n;
}

void parallel_for(std::size_t n_tasks, const std::function<void(std::size_t)>& task) {
  if (n_tasks == 0) return;
  std::shared_ptr<Pool> pool = n_tasks > 1 ? pool_for_use() : nullptr;
  if (pool != nullptr && pool->try_run(n_tasks, task)) return;
  for (std::size_t i = 0; i < n_tasks; ++i) task(i);
}

}  // namespace fastinit
