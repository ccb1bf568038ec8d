// Clean stops for the long-running agent: SIGTERM and SIGINT are blocked in
// every thread and taken by one thread with sigwait, which sets a flag that
// the agent checks between steps (never in the middle of a wipe step: the
// journal makes those resumable, but a clean stop needs no resume at all).
//
//   StopSignal stop;                     // before any other thread starts
//   while (!stop.requested()) { ...; stop.SleepFor(std::chrono::seconds(10)); }
//
// Create one, early in main's thread, before gRPC or scanning start threads
// (they inherit the blocked mask). Thread-safe.
#ifndef OFFBOARD_AGENT_SERVICE_STOP_SIGNAL_H_
#define OFFBOARD_AGENT_SERVICE_STOP_SIGNAL_H_

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace offboard::agent {

class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const { return requested_.load(); }
  void Request();
  // Sleeps up to `duration`; false when a stop was requested meanwhile.
  bool SleepFor(std::chrono::milliseconds duration);

 private:
  void Wait();

  sigset_t set_{};
  sigset_t previous_{};
  std::atomic<bool> requested_{false};
  std::atomic<bool> closing_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SERVICE_STOP_SIGNAL_H_
