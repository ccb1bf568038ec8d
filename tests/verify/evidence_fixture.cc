#include "tests/verify/evidence_fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/evidence/evidence_package.h"
#include "common/intoto/statement.h"
#include "common/policy/wipe_policy.h"
#include "common/signed/signed_messages.h"
#include "common/tls/key_and_csr.h"
#include "controller/ca/certificate_authority.h"
#include "controller/evidence/evidence_export.h"
#include "controller/intake/attestation_intake.h"
#include "controller/service/controller_services.h"
#include "controller/tlog/transparency_log.h"

namespace offboard::testing {

void EvidenceFixture::SetUp() {
  ASSERT_TRUE(controller::InitControllerHome(temp_.path() / "controller", {"localhost"}).ok());
  auto home = controller::OpenControllerHome(temp_.path() / "controller");
  ASSERT_TRUE(home.ok()) << home.status();
  home_.emplace(*std::move(home));
}

void EvidenceFixture::AddInventoryFile(const std::string& contract, const std::string& path,
                                       const std::string& sha256, const std::string& vendor,
                                       const std::string& dataset) {
  const auto imported = home_->store->ImportInventory(
      {{contract, vendor, dataset, "confidential", path, 3, sha256}}, {});
  ASSERT_TRUE(imported.ok()) << imported.status();
}

TestAgent EvidenceFixture::Enroll(const std::string& vendor, const std::string& host, int64_t at) {
  TestAgent agent{.agent_id = "", .vendor_id = vendor, .host_id = host};
  const std::string token = absl::StrCat("token-", vendor, "-", host, "-", at);
  EXPECT_TRUE(home_->store
                  ->PutToken({.token_sha256_hex = common::DigestHex(common::Sha256Of(token)),
                              .vendor_id = vendor,
                              .host_id = host,
                              .created_at = at,
                              .expires_at = at + 3600,
                              .used = false})
                  .ok());
  const auto ca = controller::CertificateAuthority::Load(home_->paths.CaDir());
  EXPECT_TRUE(ca.ok()) << ca.status();
  offboard::v1::EnrollRequest request;
  request.set_token(token);
  request.set_csr_pem(common::GenerateKeyAndCsr("agent")->csr_pem);
  request.set_attestation_public_key_pem(agent.attestation_key.PublicKey().ToPem());
  request.set_hostname(host + ".vendor.example");
  const auto response =
      controller::EnrollAgent(*home_->store, *ca, home_->key.PublicKey().ToPem(), request, at);
  EXPECT_TRUE(response.ok()) << response.status();
  agent.agent_id = response->agent_id();
  return agent;
}

controller::OrderRow EvidenceFixture::IssueOrder(const TestAgent& agent,
                                                 const std::string& contract, int64_t issued_at) {
  const std::string id = absl::StrCat("order-", ++serial_);
  offboard::v1::WipeOrder order;
  order.set_order_id(id);
  order.set_contract_id(contract);
  order.set_vendor_id(agent.vendor_id);
  order.set_host_id(agent.host_id);
  order.set_agent_id(agent.agent_id);
  order.set_nonce_hex(common::DigestHex(common::Sha256Of(id)));
  *order.mutable_issued_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(issued_at);
  *order.mutable_expires_at() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(issued_at + 600);
  *order.mutable_policy() =
      *common::LoadWipePolicy(OFFBOARD_TESTDATA_DIR "/../../policies/nist-800-88-clear.textproto");
  const controller::OrderRow row{.order_id = id,
                                 .contract_id = contract,
                                 .vendor_id = agent.vendor_id,
                                 .host_id = agent.host_id,
                                 .agent_id = agent.agent_id,
                                 .nonce_hex = order.nonce_hex(),
                                 .policy_name = "nist-800-88-clear",
                                 .issued_at = issued_at,
                                 .expires_at = issued_at + 600,
                                 .envelope = common::SignWipeOrder(order, home_->key)};
  EXPECT_TRUE(home_->store->PutOrders({row}).ok());
  return row;
}

void EvidenceFixture::Attest(const TestAgent& agent, const controller::OrderRow& order,
                             const std::vector<std::pair<std::string, std::string>>& wiped,
                             const std::string& assurance) {
  ASSERT_TRUE(AttestItems(agent, order, WipedItems(wiped, assurance)).ok());
}

nlohmann::json EvidenceFixture::WipedItems(
    const std::vector<std::pair<std::string, std::string>>& wiped, const std::string& assurance) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& [path, sha256] : wiped) {
    items.push_back({{"path", path},
                     {"member", nlohmann::json::array()},
                     {"dataset_id", "ds-a"},
                     {"sha256", sha256},
                     {"match", "exact"},
                     {"status", "wiped"},
                     {"assurance", assurance},
                     {"method", "overwrite"},
                     {"passes", {{{"pattern", "random"}, {"verified", true},
                                  {"verify_method", "direct_read"}}}},
                     {"storage", {{"fs_type", "ext4"}, {"device", "/dev/vda1"},
                                  {"rotational", false}, {"shared_extents", false}}},
                     {"reason", ""}});
  }
  return items;
}

std::string EvidenceFixture::AttestationEnvelope(const TestAgent& agent,
                                                 const controller::OrderRow& order,
                                                 const nlohmann::json& items,
                                                 const nlohmann::json& extra) {
  common::InTotoStatement statement;
  statement.predicate_type = std::string(common::kDeletionPredicateType);
  statement.subjects.push_back({.name = "inventory", .digest = {{"sha256", std::string(64, '0')}}});
  statement.predicate = {{"order_id", order.order_id},
                         {"nonce", order.nonce_hex},
                         {"started_at", "2027-01-15T08:00:00Z"},
                         {"finished_at", "2027-01-15T08:05:00Z"},
                         {"agent", {{"version", "0.1.0"}, {"key_id", agent.attestation_key.KeyId()}}},
                         {"host", {{"hostname", agent.host_id}, {"machine_id", "m-1"}, {"kernel", "6.1"}}},
                         {"policy", {{"name", "nist-800-88-clear"}}},
                         {"items", items}};
  statement.predicate.update(extra);
  return common::SerializeDsseEnvelope(common::SignDsse(
      common::kInTotoPayloadType, common::SerializeStatement(statement), agent.attestation_key));
}

absl::Status EvidenceFixture::AttestItems(const TestAgent& agent, const controller::OrderRow& order,
                                          const nlohmann::json& items,
                                          const nlohmann::json& extra) {
  auto log = controller::TransparencyLog::Open(*home_->store, home_->key);
  if (!log.ok()) return log.status();
  controller::AttestationIntake intake(*home_->store, **log);
  return intake
      .Accept({agent.vendor_id, agent.host_id, agent.agent_id}, order.order_id,
              AttestationEnvelope(agent, order, items, extra), kEvidenceNow + 10)
      .status();
}

absl::Status EvidenceFixture::AppendUnchecked(const TestAgent& agent,
                                              const controller::OrderRow& order,
                                              const nlohmann::json& items, int64_t accepted_at) {
  auto log = controller::TransparencyLog::Open(*home_->store, home_->key);
  if (!log.ok()) return log.status();
  return (*log)
      ->Append(order.order_id, agent.agent_id, AttestationEnvelope(agent, order, items),
               accepted_at)
      .status();
}

boost::filesystem::path EvidenceFixture::Export(const std::string& contract,
                                                const std::string& since_head) {
  const boost::filesystem::path out = temp_.path() / (contract + ".tar.gz");
  const auto summary = controller::ExportEvidence(
      *home_,
      {.contract_id = contract,
       .out = out,
       .now = kEvidenceNow + 60,
       .organization = "Example Bank AG",
       .officer = "R. Officer",
       .since_head = since_head.empty() ? std::nullopt : std::optional<std::string>(since_head)});
  EXPECT_TRUE(summary.ok()) << summary.status();
  return out;
}

std::vector<common::PackageMember> ReadMembers(const boost::filesystem::path& package) {
  std::vector<common::PackageMember> members;
  const absl::Status read = common::ReadEvidencePackage(
      package, {}, [&](common::PackageMember& m) {
        members.push_back(std::move(m));
        return absl::OkStatus();
      });
  EXPECT_TRUE(read.ok()) << read;
  return members;
}

std::vector<RawMember> ToRaw(const std::vector<common::PackageMember>& members) {
  std::vector<RawMember> raw;
  for (const common::PackageMember& m : members) raw.push_back({m.name, m.bytes, ""});
  return raw;
}

void WriteRawPackage(const boost::filesystem::path& path, const std::vector<RawMember>& members) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const RawMember& m : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, m.name.c_str());
    if (m.symlink_target.empty()) {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_size(entry, static_cast<la_int64_t>(m.bytes.size()));
    } else {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_symlink(entry, m.symlink_target.c_str());
    }
    archive_entry_set_perm(entry, 0644);
    archive_write_header(a, entry);
    if (m.symlink_target.empty()) archive_write_data(a, m.bytes.data(), m.bytes.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

void Resign(std::vector<RawMember>& members, const common::Ed25519PrivateKey& key) {
  ASSERT_FALSE(members.empty());
  const auto envelope = common::ParseDsseEnvelope(members[0].bytes);
  ASSERT_TRUE(envelope.ok());
  auto manifest = common::ManifestFromJson(envelope->payload);
  ASSERT_TRUE(manifest.ok());
  manifest->members.clear();
  for (size_t i = 1; i < members.size(); ++i) {
    manifest->members.push_back({.name = members[i].name,
                                 .size = members[i].bytes.size(),
                                 .sha256 = common::DigestHex(common::Sha256Of(members[i].bytes))});
  }
  members[0].bytes = common::SerializeDsseEnvelope(common::SignDsse(
      common::kManifestPayloadType, common::DumpRecord(common::ManifestToJson(*manifest)), key));
}

}  // namespace offboard::testing
