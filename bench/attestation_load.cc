// offboard-attestation-load: the attestation intake under load (issue 5,
// "Performance"). In a temporary directory it creates and removes, it
// initializes a controller home, starts the real server on loopback with
// mutual TLS, enrolls one agent per client through the Enroll RPC, stores one
// signed wipe order per attestation, and pre-builds every attestation (an
// in-toto deletion statement with `--items` realistic items, DSSE-signed by
// the agent's enrolled key). Then `--clients` threads, each with its own mTLS
// channel, submit their share at once; every accepted attestation is durable
// in the store and the Merkle log before its receipt comes back.
//
//   offboard-attestation-load --attestations 10000 --clients 8 --items 100
//
// prints the rate and per-call latency, then `openssl speed ed25519`'s
// single-core verify rate beside it as the limit (each intake verifies one
// Ed25519 signature). Audit lines go to audit.log in the temporary directory,
// not to the terminal. Exits non-zero when setup fails or any submission was
// refused.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/filesystem.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/sha256.h"
#include "common/dsse/envelope.h"
#include "common/encoding/hex.h"
#include "common/intoto/statement.h"
#include "common/io/read_file.h"
#include "common/policy/wipe_policy.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"
#include "common/tls/key_and_csr.h"
#include "controller/cli/controller_home.h"
#include "controller/server/controller_server.h"
#include "offboard/v1/attestation.grpc.pb.h"
#include "offboard/v1/enrollment.grpc.pb.h"

namespace offboard::controller {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr absl::string_view kVendor = "vendor-load";
constexpr absl::string_view kContract = "c-load";
constexpr size_t kOrderBatch = 500;
constexpr absl::string_view kInventorySha256 =
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

struct LoadOptions {
  int attestations = 10000;
  int clients = 8;
  int items = 100;
  std::string policy = OFFBOARD_SOURCE_DIR "/policies/nist-800-88-clear.textproto";
  std::string home;  // keep the controller's data directory here (for the evidence bench)
};

struct Agent {
  std::string host_id;
  std::string agent_id;
  common::KeyAndCsr tls;
  std::string certificate_pem;
  std::optional<common::Ed25519PrivateKey> attestation_key;
};

struct Work {
  std::string order_id;
  std::string envelope;
};

// Removes the directory on every way out.
class ScratchDir {
 public:
  ScratchDir()
      : path_(boost::filesystem::temp_directory_path() /
              boost::filesystem::unique_path("offboard-load-%%%%-%%%%-%%%%")) {
    boost::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    boost::system::error_code ignored;
    boost::filesystem::remove_all(path_, ignored);
  }
  const boost::filesystem::path& path() const { return path_; }

 private:
  boost::filesystem::path path_;
};

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
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(tls),
                                   args);
}

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

struct ClientResult {
  std::vector<double> latencies_ms;
  int failures = 0;
  std::string first_error;
  SteadyClock::time_point finished;
};

void Submit(int port, const std::string& ca_pem, const Agent& agent, const std::vector<Work>& work,
            std::latch& ready, ClientResult& result) {
  std::shared_ptr<grpc::Channel> channel = Channel(port, ca_pem, &agent);
  // Connect (TLS handshake included) before the clock starts.
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stub = offboard::v1::AttestationService::NewStub(channel);
  ready.arrive_and_wait();
  result.latencies_ms.reserve(work.size());
  for (const Work& one : work) {
    offboard::v1::SubmitAttestationRequest request;
    request.set_order_id(one.order_id);
    request.set_envelope(one.envelope);
    offboard::v1::SubmitAttestationResponse response;
    grpc::ClientContext context;
    const SteadyClock::time_point before = SteadyClock::now();
    const grpc::Status status = stub->Submit(&context, request, &response);
    result.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(SteadyClock::now() - before).count());
    if (!status.ok()) {
      if (result.failures++ == 0)
        result.first_error = absl::StrCat(one.order_id, ": ", status.error_message());
    }
  }
  result.finished = SteadyClock::now();
}

double Percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const size_t index = std::min(sorted.size() - 1,
                                static_cast<size_t>(fraction * static_cast<double>(sorted.size())));
  return sorted[index];
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

struct LoadResult {
  double seconds = 0;
  std::vector<double> latencies_ms;  // sorted
  int failures = 0;
  std::vector<std::string> errors;  // the first one of each client that had any
};

// Every client connects, then all start together; the clock runs until the
// last one has its last receipt.
LoadResult SubmitAll(int port, const std::string& ca_pem, const std::vector<Agent>& agents,
                     const std::vector<std::vector<Work>>& shares) {
  std::vector<ClientResult> results(agents.size());
  std::latch ready(static_cast<std::ptrdiff_t>(agents.size()) + 1);
  SteadyClock::time_point start;
  {
    std::vector<std::jthread> clients;
    for (size_t c = 0; c < agents.size(); ++c) {
      clients.emplace_back(
          [&, c] { Submit(port, ca_pem, agents[c], shares[c], ready, results[c]); });
    }
    start = SteadyClock::now();
    ready.arrive_and_wait();
  }
  LoadResult load;
  SteadyClock::time_point finished = start;
  for (const ClientResult& result : results) {
    finished = std::max(finished, result.finished);
    load.latencies_ms.insert(load.latencies_ms.end(), result.latencies_ms.begin(),
                             result.latencies_ms.end());
    load.failures += result.failures;
    if (result.failures > 0) load.errors.push_back(result.first_error);
  }
  std::sort(load.latencies_ms.begin(), load.latencies_ms.end());
  load.seconds = std::chrono::duration<double>(finished - start).count();
  return load;
}

// The Ed25519 line of `openssl speed -seconds 3 ed25519` and its verify/s
// (the last column), or nullopt when openssl is missing.
std::optional<std::pair<std::string, double>> OpensslVerifyRate() {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(
      ::popen("openssl speed -seconds 3 ed25519 2>/dev/null", "r"), ::pclose);
  if (!pipe) return std::nullopt;
  char buffer[512];
  std::optional<std::pair<std::string, double>> found;
  while (std::fgets(buffer, sizeof(buffer), pipe.get()) != nullptr) {
    std::string line(buffer);
    if (line.find("Ed25519") == std::string::npos || line.find('s') == std::string::npos) continue;
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    const size_t last_space = line.find_last_of(' ');
    try {
      found.emplace(line, std::stod(line.substr(last_space + 1)));
    } catch (const std::exception&) {
      // The header line mentions Ed25519 without numbers.
    }
  }
  return found;
}

absl::StatusOr<int> Run(const LoadOptions& options) {
  ScratchDir scratch;
  // The server's audit lines (one per attestation) go to a file, as a
  // deployed controller's would, instead of flooding the terminal.
  const int saved_stderr = ::dup(STDERR_FILENO);
  const std::string audit_path = (scratch.path() / "audit.log").string();
  if (std::freopen(audit_path.c_str(), "w", stderr) == nullptr) {
    return absl::InternalError("cannot redirect audit lines to " + audit_path);
  }
  struct RestoreStderr {
    int fd;
    ~RestoreStderr() {
      std::fflush(stderr);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
  } restore{saved_stderr};

  const boost::filesystem::path home_dir =
      options.home.empty() ? scratch.path() / "controller" : boost::filesystem::path(options.home);
  OFFBOARD_RETURN_IF_ERROR(InitControllerHome(home_dir, {"localhost", "127.0.0.1"}));
  OFFBOARD_ASSIGN_OR_RETURN(ControllerHome home, OpenControllerHome(home_dir));
  OFFBOARD_ASSIGN_OR_RETURN(std::unique_ptr<ControllerServer> server,
                            ControllerServer::Start(home, {.listen = "127.0.0.1:0"}));
  OFFBOARD_ASSIGN_OR_RETURN(const std::string ca_pem,
                            common::ReadFileToString(home.paths.CaDir() / "ca.pem"));
  const int64_t now = SystemNow();

  std::vector<Agent> agents(static_cast<size_t>(options.clients));
  for (size_t i = 0; i < agents.size(); ++i) {
    agents[i].host_id = absl::StrCat("h", i);
    OFFBOARD_RETURN_IF_ERROR(Enroll(home, server->port(), ca_pem, now, agents[i]));
  }
  OFFBOARD_RETURN_IF_ERROR(home.store->ImportInventory(Inventory(), {}).status());
  OFFBOARD_ASSIGN_OR_RETURN(offboard::v1::WipePolicy policy,
                            common::LoadWipePolicy(options.policy));
  OFFBOARD_ASSIGN_OR_RETURN(std::vector<OrderRow> orders,
                            IssueOrders(home, agents, options.attestations, policy, now));
  const std::vector<std::vector<Work>> shares =
      BuildShares(orders, agents, options.items, PolicyJson(policy));
  std::cout << "attestation envelope: " << shares[0][0].envelope.size() << " bytes, "
            << options.items << " items" << std::endl;
  const LoadResult load = SubmitAll(server->port(), ca_pem, agents, shares);
  for (const std::string& error : load.errors) std::cout << "refused: " << error << std::endl;
  server->Shutdown(std::chrono::seconds(5));
  OFFBOARD_ASSIGN_OR_RETURN(const uint64_t log_size, home.store->LogSize());
  // No head at all when every submission was refused.
  const uint64_t head_size = home.store->LatestTreeHead().value_or(TreeHeadRow{}).tree_size;
  OFFBOARD_ASSIGN_OR_RETURN(const std::vector<TreeHeadRow> heads, home.store->TreeHeads());

  const int failures = load.failures;
  const double seconds = load.seconds;
  const int accepted = static_cast<int>(load.latencies_ms.size()) - failures;
  const double rate = accepted / seconds;
  const std::vector<double>& latencies = load.latencies_ms;
  std::printf("attestations:        %d accepted, %d refused (%d clients, %d items each)\n",
              accepted, failures, options.clients, options.items);
  std::printf("log:                 %llu leaves stored, latest head size %llu, %zu heads signed\n",
              static_cast<unsigned long long>(log_size), static_cast<unsigned long long>(head_size),
              heads.size());
  std::printf("seconds:             %.3f\n", seconds);
  std::printf("attestations/second: %.0f\n", rate);
  std::printf("latency p50 / p99:   %.2f ms / %.2f ms\n", Percentile(latencies, 0.50),
              Percentile(latencies, 0.99));
  std::fflush(stdout);

  std::optional<std::pair<std::string, double>> openssl = OpensslVerifyRate();
  if (openssl) {
    std::printf("openssl speed ed25519 (one core): %s\n", openssl->first.c_str());
    std::printf("Ed25519 verify/s:    %.0f; intake rate / verify rate = %.3f\n", openssl->second,
                rate / openssl->second);
  } else {
    std::printf("openssl speed ed25519: not available\n");
  }
  if (static_cast<uint64_t>(accepted) != log_size) {
    std::printf("MISMATCH: %d accepted but %llu stored\n", accepted,
                static_cast<unsigned long long>(log_size));
    return 1;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace offboard::controller

int main(int argc, char** argv) {
  offboard::controller::LoadOptions options;
  CLI::App app("Attestation intake under load: mTLS clients against an in-process controller");
  app.add_option("--attestations", options.attestations, "attestations to submit in all")
      ->check(CLI::PositiveNumber);
  app.add_option("--clients", options.clients, "concurrent clients, one enrolled agent each")
      ->check(CLI::Range(1, 256));
  app.add_option("--items", options.items, "items in each attestation's predicate")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--policy", options.policy, "wipe policy for the orders (textproto)");
  app.add_option("--home", options.home,
                 "create the controller's data directory here and keep it (default: a temporary one)");
  CLI11_PARSE(app, argc, argv);
  absl::StatusOr<int> code = offboard::controller::Run(options);
  if (!code.ok()) {
    std::cerr << "offboard-attestation-load: " << code.status() << std::endl;
    return 2;
  }
  return *code;
}
