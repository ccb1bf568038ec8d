// Audit events: one line of key=value fields for every action that matters to
// an auditor (a key created, a wipe, a verdict). Written through spdlog to
// stderr, so that the command's stdout stays machine-readable.
//
//   AuditEvent("agent_key_created", {{"key_id", key.KeyId()}, {"path", path}});
//   // 2026-11-26T11:33:45.123Z audit event=agent_key_created key_id=ab12... path=/var/lib/x
//
// Thread-safe (spdlog's multi-threaded sink).
#ifndef OFFBOARD_COMMON_LOG_AUDIT_H_
#define OFFBOARD_COMMON_LOG_AUDIT_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace offboard::common {

using AuditField = std::pair<absl::string_view, std::string>;

// Formats the fields as `event=<event> key=value ...`; a value with spaces,
// quotes, '=' or control characters is quoted with C-style escapes.
std::string FormatAuditLine(absl::string_view event, const std::vector<AuditField>& fields);

void AuditEvent(absl::string_view event, const std::vector<AuditField>& fields);

// While alive, receives every audit line (as FormatAuditLine makes it) after
// it is logged, on the thread that logs it: for forwarding audit events
// elsewhere, and for tests that prove an event was recorded. Observers must
// not log audit events themselves. Construction and destruction are
// thread-safe.
class ScopedAuditObserver {
 public:
  explicit ScopedAuditObserver(std::function<void(absl::string_view line)> observer);
  ~ScopedAuditObserver();
  ScopedAuditObserver(const ScopedAuditObserver&) = delete;
  ScopedAuditObserver& operator=(const ScopedAuditObserver&) = delete;

 private:
  std::function<void(absl::string_view line)> observer_;
};

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_LOG_AUDIT_H_
