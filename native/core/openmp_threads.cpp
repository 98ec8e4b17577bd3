#include "openmp_threads.h"

#include <exception>
#include <thread>

#include <ATen/Parallel.h>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace torchgen {

void NameThisThread(const char* name) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

void UseOpenMpThreads(int threads) {
  // A thread libtorch did not create starts with the runtime's default count (one inside Node).
  at::init_num_threads();
  at::set_num_threads(threads);
}

void RunOnOwnThread(const char* name, int threads, const std::function<void()>& work) {
  std::exception_ptr failure;
  std::thread thread([&] {
    NameThisThread(name);
    UseOpenMpThreads(threads);
    try {
      work();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  thread.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace torchgen
