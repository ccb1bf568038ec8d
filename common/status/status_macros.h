// Early-return helpers for absl::Status and absl::StatusOr<T>.
//
// Debian's abseil ships no status macros, so Offboard keeps these two:
//
//   OFFBOARD_RETURN_IF_ERROR(WriteJournal(step));
//   OFFBOARD_ASSIGN_OR_RETURN(Digest digest, Sha256File(path));
//
// Both evaluate their argument exactly once and return the error unchanged.
#ifndef OFFBOARD_COMMON_STATUS_STATUS_MACROS_H_
#define OFFBOARD_COMMON_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OFFBOARD_STATUS_CONCAT_INNER_(a, b) a##b
#define OFFBOARD_STATUS_CONCAT_(a, b) OFFBOARD_STATUS_CONCAT_INNER_(a, b)

#define OFFBOARD_RETURN_IF_ERROR(expr)                                      \
  do {                                                                      \
    if (::absl::Status offboard_status_ = (expr); !offboard_status_.ok()) { \
      return offboard_status_;                                              \
    }                                                                       \
  } while (false)

#define OFFBOARD_ASSIGN_OR_RETURN(lhs, expr) \
  OFFBOARD_ASSIGN_OR_RETURN_IMPL_(OFFBOARD_STATUS_CONCAT_(offboard_statusor_, __LINE__), lhs, expr)

#define OFFBOARD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                    \
  if (!statusor.ok()) {                                      \
    return std::move(statusor).status();                     \
  }                                                          \
  lhs = *std::move(statusor)

#endif  // OFFBOARD_COMMON_STATUS_STATUS_MACROS_H_
