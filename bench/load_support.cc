#include "bench/load_support.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/intoto/statement.h"
#include "common/io/read_file.h"
#include "common/policy/wipe_policy.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"
#include "offboard/v1/enrollment.grpc.pb.h"

namespace offboard::controller::load {

absl::StatusOr<std::unique_ptr<StderrToFile>> StderrToFile::Open(
    const boost::filesystem::path& path) {
  const int saved = ::dup(STDERR_FILENO);
  if (saved < 0 || std::freopen(path.c_str(), "a", stderr) == nullptr) {
    if (saved >= 0) ::close(saved);
    return absl::InternalError("cannot send stderr to " + path.string());
  }
  return std::unique_ptr<StderrToFile>(new StderrToFile(saved));
}

StderrToFile::~StderrToFile() {
  std::fflush(stderr);
  ::dup2(saved_, STDERR_FILENO);
  ::close(saved_);
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  return common::HexEncode(raw);
}

std::shared_ptr<grpc::Channel> Channel(int port, const std::string& ca_pem, const Agent* agent) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ca_pem;
  if (agent != nullptr) {
    tls.pem_private_key = agent->tls.private_key_pem;
    tls.pem_cert_chain = agent->certificate_pem;
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetMaxSendMessageSize(16 << 20);
  // One TCP connection per client, as separate agent hosts would have.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Back soon after a controller restart (the crash bench kills it often).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(tls),
                                   args);
}

namespace {

constexpr size_t kOrderBatch = 500;
constexpr absl::string_view kInventorySha256 =
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

absl::Status Enroll(ControllerHome& home, int port, const std::string& ca_pem, int64_t now,
                    Agent& agent) {
  const std::string token = absl::StrCat("token-load-", agent.host_id, "-", RandomHex(8));
  OFFBOARD_RETURN_IF_ERROR(
      home.store->PutToken({.token_sha256_hex = common::DigestHex(common::Sha256Of(token)),
                            .vendor_id = std::string(kVendor),
                            .host_id = agent.host_id,
                            .created_at = now,
                            .expires_at = now + 3600,
                            .used = false}));
  OFFBOARD_ASSIGN_OR_RETURN(agent.tls, common::GenerateKeyAndCsr(agent.host_id));
  OFFBOARD_ASSIGN_OR_RETURN(agent.attestation_key, common::Ed25519PrivateKey::Generate());
  offboard::v1::EnrollRequest request;
  request.set_token(token);
  request.set_csr_pem(agent.tls.csr_pem);
  request.set_attestation_public_key_pem(agent.attestation_key->PublicKey().ToPem());
  request.set_hostname(agent.host_id + ".vendor-load.example");
  offboard::v1::EnrollResponse response;
  grpc::ClientContext context;
  const grpc::Status status =
      offboard::v1::EnrollmentService::NewStub(Channel(port, ca_pem, nullptr))
          ->Enroll(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("enroll ", agent.host_id, ": ", status.error_message()));
  }
  agent.agent_id = response.agent_id();
  agent.certificate_pem = response.client_certificate_pem();
  return absl::OkStatus();
}

// The inventory every order names: one dataset of three files.
std::vector<InventoryFileRow> Inventory() {
  std::vector<InventoryFileRow> rows;
  for (int i = 0; i < 3; ++i) {
    rows.push_back({.contract_id = std::string(kContract),
                    .vendor_id = std::string(kVendor),
                    .dataset_id = "customers-2024",
                    .classification = "confidential",
                    .path = absl::StrCat("exports/customers-", i, ".csv"),
                    .size = 1048576u * static_cast<uint64_t>(i + 1),
                    .sha256 = common::DigestHex(common::Sha256Of(absl::StrCat("file-", i)))});
  }
  return rows;
}

// Signs and stores `count` orders, agent i % agents.size() for order i.
absl::StatusOr<std::vector<OrderRow>> IssueOrders(ControllerHome& home,
                                                  const std::vector<Agent>& agents, int count,
                                                  const offboard::v1::WipePolicy& policy,
                                                  int64_t now) {
  offboard::v1::OrderedDataset dataset;
  dataset.set_dataset_id("customers-2024");
  dataset.set_classification("confidential");
  for (const InventoryFileRow& row : Inventory()) {
    offboard::v1::ExpectedFile* file = dataset.add_files();
    file->set_path(row.path);
    file->set_size(row.size);
    file->set_sha256(row.sha256);
  }
  std::vector<OrderRow> all;
  std::vector<OrderRow> batch;
  for (int i = 0; i < count; ++i) {
    const Agent& agent = agents[static_cast<size_t>(i) % agents.size()];
    offboard::v1::WipeOrder order;
    order.set_order_id(absl::StrCat("order-load-", i));
    order.set_contract_id(std::string(kContract));
    order.set_vendor_id(std::string(kVendor));
    order.set_host_id(agent.host_id);
    order.set_agent_id(agent.agent_id);
    order.set_nonce_hex(RandomHex(32));
    *order.mutable_issued_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(now);
    *order.mutable_expires_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(now + 86400);
    *order.mutable_policy() = policy;
    *order.add_datasets() = dataset;
    batch.push_back({.order_id = order.order_id(),
                     .contract_id = order.contract_id(),
                     .vendor_id = order.vendor_id(),
                     .host_id = agent.host_id,
                     .agent_id = agent.agent_id,
                     .nonce_hex = order.nonce_hex(),
                     .policy_name = policy.name(),
                     .issued_at = now,
                     .expires_at = now + 86400,
                     .envelope = common::SignWipeOrder(order, home.key)});
    if (batch.size() == kOrderBatch || i + 1 == count) {
      OFFBOARD_RETURN_IF_ERROR(home.store->PutOrders(batch));
      std::move(batch.begin(), batch.end(), std::back_inserter(all));
      batch.clear();
    }
  }
  return all;
}

// One item as agent/wipe/wipe_report_json.cc writes it: a file found in a
// nested archive member, overwritten in three verified passes on ext4.
nlohmann::json Item(int index) {
  const std::string sha256 = common::DigestHex(common::Sha256Of(absl::StrCat("item-", index)));
  return {{"path",
           absl::StrCat("/srv/vendor/exports/batch-", index / 10, "/customers-", index, ".csv")},
          {"member", nlohmann::json::array()},
          {"dataset_id", "customers-2024"},
          {"sha256", sha256},
          {"match", index % 7 == 0 ? "derived" : "exact"},
          {"status", "wiped"},
          {"assurance", "overwrite_verified"},
          {"method", "overwrite"},
          {"passes",
           {{{"pattern", "zeros"}, {"verified", true}, {"verify_method", "direct_io"}},
            {{"pattern", "ones"}, {"verified", true}, {"verify_method", "direct_io"}},
            {{"pattern", "random"}, {"verified", true}, {"verify_method", "direct_io"}}}},
          {"renames", 3},
          {"bytes_overwritten", 1048576 + index * 4096},
          {"link_count", 1},
          {"storage",
           {{"fs_type", "ext4"},
            {"fs_magic", 61267},
            {"device", "/dev/nvme0n1p2"},
            {"mount_point", "/srv"},
            {"rotational", false},
            {"discard", false},
            {"mount_options", "rw,relatime"},
            {"data_journal", false},
            {"shared_extents", false},
            {"extents_mapped", true},
            {"note", ""}}},
          {"reason", ""}};
}

// A DSSE envelope for `order`, as agent/wipe/deletion_attestation.cc builds it.
std::string Attestation(const OrderRow& order, const Agent& agent, int items,
                        const nlohmann::json& policy_json) {
  common::InTotoStatement statement;
  statement.predicate_type = std::string(common::kDeletionPredicateType);
  nlohmann::json item_list = nlohmann::json::array();
  for (int i = 0; i < items; ++i) {
    nlohmann::json item = Item(i);
    statement.subjects.push_back({.name = item["path"].get<std::string>(),
                                  .digest = {{"sha256", item["sha256"].get<std::string>()}}});
    item_list.push_back(std::move(item));
  }
  if (statement.subjects.empty()) {
    // As the agent does: with nothing destroyed, the subject is the inventory.
    statement.subjects.push_back(
        {.name = "inventory", .digest = {{"sha256", std::string(kInventorySha256)}}});
  }
  statement.predicate = {
      {"run_id", RandomHex(16)},
      {"order_id", order.order_id},
      {"nonce", order.nonce_hex},
      {"standalone", false},
      {"started_at", "2026-11-26T11:00:00Z"},
      {"finished_at", "2026-11-26T11:33:45Z"},
      {"roots", {"/srv/vendor"}},
      {"inventory_sha256", std::string(kInventorySha256)},
      {"agent", {{"version", "0.1.0"}, {"key_id", agent.attestation_key->KeyId()}}},
      {"host",
       {{"hostname", agent.host_id},
        {"machine_id", std::string(32, 'd')},
        {"kernel", "6.1.0-18-amd64"}}},
      {"policy", policy_json},
      {"items", std::move(item_list)},
      {"summary",
       {{"wiped", items}, {"failed", 0}, {"needs_review", 0}, {"skipped", 0}, {"residual", 0}}},
      {"post_wipe_scan",
       {{"files_scanned", 12000},
        {"bytes_read", 987654321},
        {"residual", 0},
        {"errors", nlohmann::json::array()}}},
  };
  return common::SerializeDsseEnvelope(common::SignDsse(
      common::kInTotoPayloadType, common::SerializeStatement(statement), *agent.attestation_key));
}
nlohmann::json PolicyJson(const offboard::v1::WipePolicy& policy) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(policy, &text, options);
  return nlohmann::json::parse(text);
}

// Client c's share: orders c, c + clients, ...; built in parallel, outside the clock.
std::vector<std::vector<Work>> BuildShares(const std::vector<OrderRow>& orders,
                                           const std::vector<Agent>& agents, int items,
                                           const nlohmann::json& policy_json) {
  std::vector<std::vector<Work>> shares(agents.size());
  std::vector<std::jthread> builders;
  for (size_t c = 0; c < agents.size(); ++c) {
    builders.emplace_back([&, c] {
      for (size_t i = c; i < orders.size(); i += agents.size()) {
        shares[c].push_back(
            {orders[i].order_id, Attestation(orders[i], agents[c], items, policy_json)});
      }
    });
  }
  builders.clear();  // joins
  return shares;
}

}  // namespace

absl::StatusOr<LoadSetup> PrepareLoad(const boost::filesystem::path& home_dir,
                                      const LoadOptions& options) {
  LoadSetup setup;
  OFFBOARD_RETURN_IF_ERROR(InitControllerHome(home_dir, {"localhost", "127.0.0.1"}));
  OFFBOARD_ASSIGN_OR_RETURN(ControllerHome home, OpenControllerHome(home_dir));
  setup.home = std::make_unique<ControllerHome>(std::move(home));
  OFFBOARD_ASSIGN_OR_RETURN(setup.server,
                            ControllerServer::Start(*setup.home, {.listen = "127.0.0.1:0"}));
  OFFBOARD_ASSIGN_OR_RETURN(setup.ca_pem,
                            common::ReadFileToString(setup.home->paths.CaDir() / "ca.pem"));
  const int64_t now = SystemNow();
  setup.agents.resize(static_cast<size_t>(options.clients));
  for (size_t i = 0; i < setup.agents.size(); ++i) {
    setup.agents[i].host_id = absl::StrCat("h", i);
    OFFBOARD_RETURN_IF_ERROR(
        Enroll(*setup.home, setup.server->port(), setup.ca_pem, now, setup.agents[i]));
  }
  OFFBOARD_RETURN_IF_ERROR(setup.home->store->ImportInventory(Inventory(), {}).status());
  OFFBOARD_ASSIGN_OR_RETURN(offboard::v1::WipePolicy policy,
                            common::LoadWipePolicy(options.policy));
  OFFBOARD_ASSIGN_OR_RETURN(
      std::vector<OrderRow> orders,
      IssueOrders(*setup.home, setup.agents, options.attestations, policy, now));
  setup.shares = BuildShares(orders, setup.agents, options.items, PolicyJson(policy));
  return setup;
}

double Percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const size_t index = std::min(sorted.size() - 1,
                                static_cast<size_t>(fraction * static_cast<double>(sorted.size())));
  return sorted[index];
}

}  // namespace offboard::controller::load
