// Builders for reconciliation tests: inventory rows, attested items in the
// shape agent/wipe/wipe_report_json.cc writes them, and attestations.
#ifndef OFFBOARD_TESTS_COMMON_RECONCILE_RECONCILE_TEST_UTIL_H_
#define OFFBOARD_TESTS_COMMON_RECONCILE_RECONCILE_TEST_UTIL_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/reconcile/reconciler.h"

namespace offboard::common::testing {

// A distinct 64-hex-digit digest per n.
inline std::string Sha(uint64_t n) { return absl::StrFormat("%064x", n); }

inline ExpectedFile File(const std::string& dataset, uint64_t n) {
  return {.dataset_id = dataset,
          .path = absl::StrFormat("/delivered/%s/file%d.csv", dataset, n),
          .sha256 = Sha(n),
          .size = 100};
}

struct ItemSpec {
  std::string dataset = "ds";
  std::string sha256;
  std::string status = "wiped";
  nlohmann::json assurance = "overwrite_verified";
  std::string match = "exact";
  std::string path = "/srv/a.csv";
  std::vector<std::string> member = {};
};

inline nlohmann::json Item(const ItemSpec& spec) {
  return {{"path", spec.path},
          {"member", spec.member},
          {"dataset_id", spec.dataset},
          {"sha256", spec.sha256},
          {"match", spec.match},
          {"status", spec.status},
          {"assurance", spec.assurance},
          {"method", "overwrite"},
          {"passes", nlohmann::json::array()},
          {"storage", nullptr},
          {"reason", spec.status == "wiped" ? "" : "test"}};
}

inline AcceptedAttestation Attestation(const std::string& order, const std::string& host,
                                       std::vector<nlohmann::json> items, uint64_t log_index = 0) {
  return {.order_id = order,
          .agent_id = "agent-" + host,
          .host_id = host,
          .log_index = log_index,
          .predicate = {{"order_id", order},
                        {"nonce", "00"},
                        {"items", items},
                        {"summary", nlohmann::json::object()},
                        {"post_wipe_scan", nlohmann::json::object()}}};
}

inline HostOrder Order(const std::string& order, const std::string& host, bool answered,
                       int64_t expires_at = 2000) {
  return {.order_id = order,
          .host_id = host,
          .agent_id = "agent-" + host,
          .expires_at = expires_at,
          .answered = answered};
}

}  // namespace offboard::common::testing

#endif  // OFFBOARD_TESTS_COMMON_RECONCILE_RECONCILE_TEST_UTIL_H_
