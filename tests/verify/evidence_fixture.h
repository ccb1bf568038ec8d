// A controller home with real keys, CA, enrolled agents, signed orders and
// attestations accepted through the intake, for evidence export and
// verification tests; and a raw tar.gz writer to build tampered packages.
#ifndef OFFBOARD_TESTS_VERIFY_EVIDENCE_FIXTURE_H_
#define OFFBOARD_TESTS_VERIFY_EVIDENCE_FIXTURE_H_

#include <gtest/gtest.h>

#include <boost/filesystem/path.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/crypto/ed25519.h"
#include "common/evidence/package_reader.h"
#include "controller/cli/controller_home.h"
#include "controller/store/store.h"
#include "tests/support/temp_dir.h"

namespace offboard::testing {

inline constexpr int64_t kEvidenceNow = 1800000000;

struct TestAgent {
  std::string agent_id;
  std::string vendor_id;
  std::string host_id;
  common::Ed25519PrivateKey attestation_key = *common::Ed25519PrivateKey::Generate();
};

class EvidenceFixture : public ::testing::Test {
 protected:
  void SetUp() override;

  // Imports one inventory row (size 3) of `vendor`'s `dataset` with this
  // content digest.
  void AddInventoryFile(const std::string& contract, const std::string& path,
                        const std::string& sha256, const std::string& vendor = "vendor-a",
                        const std::string& dataset = "ds-a");
  // Enrolls an agent on `host` at time `at` (again: the host reinstalled).
  TestAgent Enroll(const std::string& vendor, const std::string& host, int64_t at = kEvidenceNow);
  // Issued at `issued_at`, expiring 600 s later.
  controller::OrderRow IssueOrder(const TestAgent& agent, const std::string& contract,
                                  int64_t issued_at = kEvidenceNow);
  // Attests that every (path, sha256) was wiped with `assurance`; accepted
  // through the intake, so that it is logged and has a receipt.
  void Attest(const TestAgent& agent, const controller::OrderRow& order,
              const std::vector<std::pair<std::string, std::string>>& wiped,
              const std::string& assurance = "overwrite_verified");
  // Items of dataset "ds-a" saying that every (path, sha256) was wiped.
  static nlohmann::json WipedItems(const std::vector<std::pair<std::string, std::string>>& wiped,
                                   const std::string& assurance = "overwrite_verified");
  // Submits an attestation with exactly these items through the intake, at
  // kEvidenceNow + 10. Its run started at kEvidenceNow. `extra` predicate
  // fields are added ("run_id", "part").
  absl::Status AttestItems(const TestAgent& agent, const controller::OrderRow& order,
                           const nlohmann::json& items,
                           const nlohmann::json& extra = nlohmann::json::object());
  // Appends the same attestation to the log at `accepted_at` without the
  // intake's checks, as a controller that made none would.
  absl::Status AppendUnchecked(const TestAgent& agent, const controller::OrderRow& order,
                               const nlohmann::json& items, int64_t accepted_at);
  // The package of `contract`, exported at kEvidenceNow + 60, proving the
  // log consistent with `since_head` when given.
  boost::filesystem::path Export(const std::string& contract, const std::string& since_head = "");

  std::string AttestationEnvelope(const TestAgent& agent, const controller::OrderRow& order,
                                  const nlohmann::json& items,
                                  const nlohmann::json& extra = nlohmann::json::object());

  TempDir temp_;
  std::optional<controller::ControllerHome> home_;
  int serial_ = 0;
};

// Every member of a package, in order.
std::vector<common::PackageMember> ReadMembers(const boost::filesystem::path& package);

struct RawMember {
  std::string name;
  std::string bytes;
  std::string symlink_target;  // a symbolic link member when set
};
std::vector<RawMember> ToRaw(const std::vector<common::PackageMember>& members);
// Writes members as they are, without any of the writer's checks.
void WriteRawPackage(const boost::filesystem::path& path, const std::vector<RawMember>& members);
// Recomputes the manifest over members[1..] and signs it with `key`, as a
// bank that forges a package with its own controller key would.
void Resign(std::vector<RawMember>& members, const common::Ed25519PrivateKey& key);

}  // namespace offboard::testing

#endif  // OFFBOARD_TESTS_VERIFY_EVIDENCE_FIXTURE_H_
