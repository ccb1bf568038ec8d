// Decommissioning an agent's data directory: only after the controller's
// answer are the attestation key and the TLS key destroyed and the record
// written; afterwards run, enroll, key creation and decommission refuse the
// directory. An unreachable controller, an order without a receipt or an
// attestation in the outbox destroys nothing; a key that is a symlink is
// never followed out of the directory; a crash after the controller's
// answer is finished by running again.
//
// Everything happens inside the test's temporary directory.
#include "agent/service/decommission.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <boost/filesystem/operations.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/identity/agent_key.h"
#include "agent/identity/decommission_record.h"
#include "agent/service/outbox.h"
#include "common/cli/command_line.h"
#include "common/io/read_file.h"
#include "common/tls/key_and_csr.h"
#include "tests/support/temp_dir.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

constexpr int64_t kBannedAt = 1800000000;  // 2027-01-15T08:00:00Z

class DecommissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // An enrolled data directory, as `enroll` leaves it.
    ASSERT_TRUE(LoadOrCreateAttestationKey(dir_).ok());
    const EnrollmentPaths paths(dir_);
    temp_.WriteFile("agent/agent-tls-key.pem",
                    common::GenerateKeyAndCsr("host-1")->private_key_pem);
    temp_.WriteFile("agent/agent-tls.pem",
                    "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
    temp_.WriteFile("agent/ca.pem",
                    "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
    temp_.WriteFile("agent/controller-ed25519.pub.pem",
                    common::Ed25519PrivateKey::Generate()->PublicKey().ToPem());
    temp_.WriteFile("agent/enrollment.json",
                    R"({"agent_id": "agent-1", "vendor_id": "vendor-a", "host_id": "host-1",
                        "controller": "127.0.0.1:1"})");
    attestation_key_ = *common::ReadFileToString(AttestationKeyPath(dir_));
    tls_key_ = *common::ReadFileToString(paths.TlsKey());
    temp_.WriteFile("outside/precious.pem", "not the agent's to destroy");
  }

  // The controller's side: bans at kBannedAt, counting the calls.
  DecommissionCall Controller() {
    return
        [this](const Enrollment& enrollment) -> absl::StatusOr<offboard::v1::DecommissionResponse> {
          ++calls_;
          offboard::v1::DecommissionResponse response;
          response.set_agent_id(enrollment.agent_id);
          *response.mutable_banned_at() =
              google::protobuf::util::TimeUtil::SecondsToTimestamp(kBannedAt);
          return response;
        };
  }

  void ExpectKeysIntact() {
    EXPECT_EQ(*common::ReadFileToString(AttestationKeyPath(dir_)), attestation_key_);
    EXPECT_EQ(*common::ReadFileToString(EnrollmentPaths(dir_).TlsKey()), tls_key_);
    EXPECT_FALSE(fs::exists(DecommissionRecordPath(dir_)));
    EXPECT_FALSE(fs::exists(DecommissionPendingPath(dir_)));
  }

  testing::TempDir temp_;
  fs::path dir_ = temp_.path() / "agent";
  std::string attestation_key_;
  std::string tls_key_;
  int calls_ = 0;
};

TEST_F(DecommissionTest, AfterTheControllersAnswerTheKeysAreDestroyed) {
  const absl::StatusOr<DecommissionReport> report =
      DecommissionAgent({.data_dir = dir_, .force = false}, Controller());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(report->agent_id, "agent-1");
  EXPECT_EQ(report->banned_at_controller, "2027-01-15T08:00:00Z");
  EXPECT_EQ(report->destroyed.size(), 2u);
  EXPECT_FALSE(fs::exists(AttestationKeyPath(dir_)));
  EXPECT_FALSE(fs::exists(EnrollmentPaths(dir_).TlsKey()));
  // Public material stays: it signs and opens nothing.
  EXPECT_TRUE(fs::exists(AttestationPublicKeyPath(dir_)));
  EXPECT_TRUE(fs::exists(EnrollmentPaths(dir_).TlsCertificate()));
  EXPECT_EQ(*common::ReadFileToString(temp_.path() / "outside/precious.pem"),
            "not the agent's to destroy");
  // No leftover under another name either: only what was there, minus the keys.
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find("key"), std::string::npos) << entry.path();
  }

  const nlohmann::json record =
      nlohmann::json::parse(*common::ReadFileToString(DecommissionRecordPath(dir_)));
  EXPECT_EQ(record["agent_id"], "agent-1");
  EXPECT_EQ(record["vendor_id"], "vendor-a");
  EXPECT_EQ(record["host_id"], "host-1");
  EXPECT_EQ(record["banned_at_controller"], "2027-01-15T08:00:00Z");
  EXPECT_TRUE(record["decommissioned_at"].is_string());
  EXPECT_FALSE(fs::exists(DecommissionPendingPath(dir_)));

  // The directory serves no more: no run, no new key, no enrollment, and
  // decommissioning again is refused without asking the controller.
  for (const absl::Status& refused :
       {LoadEnrollment(dir_).status(), LoadOrCreateAttestationKey(dir_).status(),
        EnrollAgent({.controller = "127.0.0.1:1",
        .token = "t",
        .ca_file = (dir_ / "ca.pem").string(),
        .data_dir = dir_,
        .hostname = ""})
            .status(),
        DecommissionAgent({.data_dir = dir_, .force = false}, Controller()).status()}) {
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
    EXPECT_NE(refused.message().find("was decommissioned"), std::string::npos) << refused;
    EXPECT_EQ(common::ExitCodeFor(refused), common::kExitBadInput);
  }
  EXPECT_EQ(calls_, 1);
  EXPECT_FALSE(fs::exists(AttestationKeyPath(dir_)));
}

TEST_F(DecommissionTest, AnUnreachableControllerDestroysNothing) {
  const absl::StatusOr<DecommissionReport> report = DecommissionAgent(
      {.data_dir = dir_, .force = false},
      [](const Enrollment&) -> absl::StatusOr<offboard::v1::DecommissionResponse> {
        return absl::UnavailableError("Decommission at 127.0.0.1:1: connection refused");
      });
  EXPECT_EQ(report.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(report.status().message().find("nothing was destroyed"), std::string::npos);
  EXPECT_EQ(common::ExitCodeFor(report.status()), common::kExitAttention);
  ExpectKeysIntact();
  EXPECT_TRUE(LoadEnrollment(dir_).ok());
}

TEST_F(DecommissionTest, OutstandingOrdersAndAttestationsBlockUnlessForced) {
  // An order whose plan waits for approval, and an attestation not yet delivered.
  temp_.WriteFile("agent/orders/order-1/plan.json", "{}");
  ASSERT_TRUE(Outbox(dir_).Put("order-2", {"{}"}).ok());
  absl::StatusOr<DecommissionReport> report =
      DecommissionAgent({.data_dir = dir_, .force = false}, Controller());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("order order-1: its plan awaits approval"),
            std::string::npos)
      << report.status();
  EXPECT_NE(report.status().message().find("1 attestation(s) or parts wait in"), std::string::npos)
      << report.status();
  EXPECT_EQ(calls_, 0);
  ExpectKeysIntact();

  report = DecommissionAgent({.data_dir = dir_, .force = true}, Controller());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(report->forced_past.size(), 2u);
  const nlohmann::json record =
      nlohmann::json::parse(*common::ReadFileToString(DecommissionRecordPath(dir_)));
  EXPECT_EQ(record["forced_past"].size(), 2u);
  EXPECT_FALSE(fs::exists(AttestationKeyPath(dir_)));
}

TEST_F(DecommissionTest, AnOrderWithItsReceiptDoesNotBlock) {
  temp_.WriteFile("agent/orders/order-1/done", "complete\n");
  temp_.WriteFile("agent/receipts/order-1.json", "{}");
  const absl::StatusOr<DecommissionReport> report =
      DecommissionAgent({.data_dir = dir_, .force = false}, Controller());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->forced_past.empty());
  // An unfinished wipe in the journal, by contrast, does.
  EXPECT_EQ(DecommissionBlockers(dir_, 1)->size(), 1u);
}

TEST_F(DecommissionTest, AKeyThatIsASymlinkIsNeverFollowed) {
  fs::remove(EnrollmentPaths(dir_).TlsKey());
  fs::create_symlink(temp_.path() / "outside/precious.pem", EnrollmentPaths(dir_).TlsKey());
  const absl::StatusOr<DecommissionReport> report =
      DecommissionAgent({.data_dir = dir_, .force = false}, Controller());
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(calls_, 0) << "refused before the controller was asked";
  EXPECT_EQ(*common::ReadFileToString(temp_.path() / "outside/precious.pem"),
            "not the agent's to destroy");
  EXPECT_EQ(*common::ReadFileToString(AttestationKeyPath(dir_)), attestation_key_);
}

TEST_F(DecommissionTest, ACrashAfterTheAnswerIsFinishedByRunningAgain) {
  // As left by a crash right after the controller answered.
  temp_.WriteFile("agent/decommission-pending.json",
                  R"({"agent_id": "agent-1", "vendor_id": "vendor-a", "host_id": "host-1",
                      "controller": "127.0.0.1:1", "banned_at_controller": "2027-01-15T08:00:00Z",
                      "already_banned": false, "forced_past": []})");
  const absl::Status pending = CheckNotDecommissioned(dir_);
  EXPECT_EQ(pending.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(pending.message().find("is being decommissioned"), std::string::npos) << pending;
  EXPECT_EQ(LoadEnrollment(dir_).status().code(), absl::StatusCode::kFailedPrecondition);

  const absl::StatusOr<DecommissionReport> report =
      DecommissionAgent({.data_dir = dir_, .force = false}, Controller());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(calls_, 0) << "the controller answered before the crash";
  EXPECT_TRUE(report->resumed);
  EXPECT_FALSE(fs::exists(AttestationKeyPath(dir_)));
  EXPECT_FALSE(fs::exists(EnrollmentPaths(dir_).TlsKey()));
  EXPECT_TRUE(fs::exists(DecommissionRecordPath(dir_)));
  EXPECT_FALSE(fs::exists(DecommissionPendingPath(dir_)));
}

TEST_F(DecommissionTest, ANotEnrolledDirectoryIsRefusedAndLeftAlone) {
  const fs::path empty = temp_.path() / "empty";
  fs::create_directories(empty);
  EXPECT_EQ(DecommissionAgent({.data_dir = empty, .force = false}, Controller()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::is_empty(empty));
  EXPECT_EQ(calls_, 0);
}

}  // namespace
}  // namespace offboard::agent
