// A fixed set of threads running submitted tasks in submission order, for the
// checks of an evidence package that need no shared state (signatures,
// digests, parsing), while the reading thread keeps decompressing.
//
//   WorkerPool pool(2);
//   std::future<int> answer = pool.Submit([] { return 42; });
//
// Thread-safe. The destructor finishes the tasks already submitted.
#ifndef OFFBOARD_VERIFY_WORKER_POOL_H_
#define OFFBOARD_VERIFY_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace offboard::verify {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads) {
    for (unsigned i = 0; i < std::max(threads, 1u); ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  template <typename F>
  std::future<std::invoke_result_t<F>> Submit(F task) {
    auto packaged = std::make_shared<std::packaged_task<std::invoke_result_t<F>()>>(std::move(task));
    std::future<std::invoke_result_t<F>> result = packaged->get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.emplace_back([packaged] { (*packaged)(); });
    }
    wake_.notify_one();
    return result;
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, and nothing left
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace offboard::verify

#endif  // OFFBOARD_VERIFY_WORKER_POOL_H_
