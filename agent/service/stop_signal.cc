#include "agent/service/stop_signal.h"

#include <pthread.h>

#include "common/log/audit.h"

namespace offboard::agent {

StopSignal::StopSignal() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGUSR1);  // our own wake-up when closing
  pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  thread_ = std::thread([this] { Wait(); });
}

StopSignal::~StopSignal() {
  closing_ = true;
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

void StopSignal::Wait() {
  while (true) {
    int signal_number = 0;
    if (sigwait(&set_, &signal_number) != 0) continue;
    if (signal_number == SIGUSR1) {
      if (closing_) return;
      continue;
    }
    common::AuditEvent("agent_stop_requested",
                       {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
    Request();
  }
}

void StopSignal::Request() {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
  }
  wake_.notify_all();
}

bool StopSignal::SleepFor(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, duration, [this] { return requested_.load(); });
}

}  // namespace offboard::agent
