// Fingerprint sets for tests of derived-copy matching and redaction: keys,
// identifiers and HMAC digests computed independently of the code under test
// (OpenSSL's one-shot HMAC()).
#ifndef OFFBOARD_TESTS_SUPPORT_FINGERPRINT_SETS_H_
#define OFFBOARD_TESTS_SUPPORT_FINGERPRINT_SETS_H_

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/inventory/fingerprint_set.h"

namespace offboard::testing {

// A deterministic HMAC key.
inline std::vector<uint8_t> TestKey(uint8_t seed, size_t size = 32) {
  std::vector<uint8_t> key(size);
  for (size_t i = 0; i < size; ++i) key[i] = static_cast<uint8_t>(seed * 31 + i);
  return key;
}

inline std::array<uint8_t, 32> TestHmac(const std::vector<uint8_t>& key,
                                        const std::string& identifier) {
  std::array<uint8_t, 32> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(identifier.data()), identifier.size(), digest.data(),
       &length);
  return digest;
}

// "CUST-00000042".
inline std::string CustomerId(int n) {
  char id[32];
  std::snprintf(id, sizeof(id), "CUST-%08d", n);
  return id;
}

inline std::vector<std::string> CustomerIds(int first, int count) {
  std::vector<std::string> ids;
  for (int i = first; i < first + count; ++i) ids.push_back(CustomerId(i));
  return ids;
}

// A set whose digests are the HMACs of `ids` under `key`.
inline common::FingerprintSet MakeFingerprintSet(std::string dataset_id, std::vector<uint8_t> key,
                                                 std::string regex, uint32_t min_matches,
                                                 const std::vector<std::string>& ids) {
  common::FingerprintSet set;
  set.dataset_id = std::move(dataset_id);
  for (const std::string& id : ids) set.digests.push_back(TestHmac(key, id));
  std::sort(set.digests.begin(), set.digests.end());
  set.digests.erase(std::unique(set.digests.begin(), set.digests.end()), set.digests.end());
  set.hmac_key = std::move(key);
  set.identifier_regex = std::move(regex);
  set.min_matches = min_matches;
  return set;
}

}  // namespace offboard::testing

#endif  // OFFBOARD_TESTS_SUPPORT_FINGERPRINT_SETS_H_
