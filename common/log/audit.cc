#include "common/log/audit.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace offboard::common {
namespace {

bool NeedsQuoting(absl::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == 0x7f) return true;
  }
  return false;
}

spdlog::logger& AuditLogger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto created = std::make_shared<spdlog::logger>(
        "audit", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ audit %v", spdlog::pattern_time_type::utc);
    return created;
  }();
  return *logger;
}

struct Observers {
  std::mutex mutex;
  std::vector<const std::function<void(absl::string_view)>*> list;  // guarded by mutex
  std::atomic<size_t> count{0};  // list.size(), read without the lock
};

Observers& AuditObservers() {
  static Observers* observers = new Observers();
  return *observers;
}

}  // namespace

std::string FormatAuditLine(absl::string_view event, const std::vector<AuditField>& fields) {
  std::string line = absl::StrCat("event=", event);
  for (const auto& [key, value] : fields) {
    if (NeedsQuoting(value)) {
      absl::StrAppend(&line, " ", key, "=\"", absl::CEscape(value), "\"");
    } else {
      absl::StrAppend(&line, " ", key, "=", value);
    }
  }
  return line;
}

void AuditEvent(absl::string_view event, const std::vector<AuditField>& fields) {
  const std::string line = FormatAuditLine(event, fields);
  AuditLogger().info(line);
  Observers& observers = AuditObservers();
  // Every accepted attestation logs an event: no lock when nobody observes.
  if (observers.count.load(std::memory_order_acquire) == 0) return;
  std::lock_guard<std::mutex> lock(observers.mutex);
  for (const auto* observer : observers.list) (*observer)(line);
}

ScopedAuditObserver::ScopedAuditObserver(std::function<void(absl::string_view line)> observer)
    : observer_(std::move(observer)) {
  Observers& observers = AuditObservers();
  std::lock_guard<std::mutex> lock(observers.mutex);
  observers.list.push_back(&observer_);
  observers.count.store(observers.list.size(), std::memory_order_release);
}

ScopedAuditObserver::~ScopedAuditObserver() {
  Observers& observers = AuditObservers();
  std::lock_guard<std::mutex> lock(observers.mutex);
  observers.list.erase(std::find(observers.list.begin(), observers.list.end(), &observer_));
  observers.count.store(observers.list.size(), std::memory_order_release);
}

}  // namespace offboard::common
