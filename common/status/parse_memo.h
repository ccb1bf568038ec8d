// ParseMemo: remembers the successful results of a pure parse, keyed by the
// exact input bytes, so that a server handling many calls from the same peers
// parses each certificate or enrolled key once instead of once per call.
// OpenSSL 3's PEM decoders cost more per call (provider lookups under global
// locks) than verifying the signature the key is for.
//
//   ParseMemo<Ed25519PublicKey> keys(1024);
//   OFFBOARD_ASSIGN_OR_RETURN(Ed25519PublicKey key,
//       keys.Get(pem, [](absl::string_view pem) { return Ed25519PublicKey::FromPem(pem); }));
//
// Only successes are kept; a failing input is parsed again each time and its
// error returned as is. Bounded: when `capacity` entries are held, the memo
// forgets all of them and starts over. The parse must depend on the bytes
// alone (no clock, no store). Value must be copyable; copies are handed out.
//
// Thread-safe: the map is guarded by a mutex, and the parse runs outside it.
#ifndef OFFBOARD_COMMON_STATUS_PARSE_MEMO_H_
#define OFFBOARD_COMMON_STATUS_PARSE_MEMO_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::common {

template <typename Value>
class ParseMemo {
 public:
  explicit ParseMemo(size_t capacity) : capacity_(capacity) {}

  template <typename Parse>
  absl::StatusOr<Value> Get(absl::string_view input, Parse&& parse) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = values_.find(input); it != values_.end()) return it->second;
    }
    absl::StatusOr<Value> parsed = std::forward<Parse>(parse)(input);
    if (!parsed.ok()) return parsed;
    std::lock_guard lock(mutex_);
    if (values_.size() >= capacity_) values_.clear();
    values_.try_emplace(std::string(input), *parsed);
    return parsed;
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return values_.size();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  absl::flat_hash_map<std::string, Value> values_;
};

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_STATUS_PARSE_MEMO_H_
