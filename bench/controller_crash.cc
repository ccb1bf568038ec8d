// offboard-controller-crash: SIGKILL the controller while agents submit
// (issue 8, "Crashes"). It prepares a controller home in a temporary
// directory as the load bench does (agents enrolled over mTLS, one signed
// order per attestation), then runs the real `offboard-controller serve` as a
// child process and kills it with SIGKILL `--kills` times while `--clients`
// agents submit their attestations, spread over the run by progress (kill k
// comes after k/(kills+1) of the receipts, plus a random few milliseconds so
// that it lands mid-call), starting it again on the same port each time. The
// agents resend whatever got no answer, as the agent's outbox does. A kill
// that interrupted no call proves nothing, so the run fails when no call had
// to be resent. Afterwards, with the controller stopped, it checks:
//   - every receipt handed out is backed by the stored attestation with the
//     same bytes at its log index;
//   - every receipt's tree head is signed by the controller, its inclusion
//     proof verifies, and its root is the root of the stored log at that size;
//   - the log holds each order's attestation exactly once;
//   - SQLite's integrity_check passes and the log reopens (the rebuilt tree
//     gives the latest head's root).
//
//   offboard-controller-crash --controller build/release/offboard-controller
//       --attestations 10000 --clients 8 --kills 20
//
// Exit 0 when every check holds, 1 when one fails (each failure printed), 2
// when setup fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/filesystem.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/load_support.h"
#include "common/encoding/hex.h"
#include "common/io/read_file.h"
#include "common/merkle/merkle.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"
#include "controller/tlog/merkle_tree.h"
#include "controller/tlog/transparency_log.h"
#include "offboard/v1/attestation.grpc.pb.h"

extern char** environ;

namespace offboard::controller {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct CrashOptions {
  load::LoadOptions load{.attestations = 10000, .clients = 8, .items = 20};
  int kills = 20;
  unsigned seed = 1;       // of the few milliseconds added to each kill
  std::string controller;  // the offboard-controller program
};

// `offboard-controller serve` as a child process, its output in a log file.
class ControllerProcess {
 public:
  ControllerProcess(std::string program, boost::filesystem::path home, int port,
                    boost::filesystem::path log)
      : program_(std::move(program)), home_(std::move(home)), port_(port), log_(std::move(log)) {}
  ~ControllerProcess() { Stop(SIGKILL); }

  absl::Status Start() {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const std::string home = home_.string();
    const std::string listen = absl::StrCat("127.0.0.1:", port_);
    std::vector<char*> argv = {program_.data(),
                               const_cast<char*>("serve"),
                               const_cast<char*>("--data-dir"),
                               const_cast<char*>(home.c_str()),
                               const_cast<char*>("--listen"),
                               const_cast<char*>(listen.c_str()),
                               nullptr};
    const int error = posix_spawn(&pid_, program_.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0)
      return absl::InternalError(absl::StrCat("spawn ", program_, ": ", strerror(error)));
    return WaitUntilListening();
  }

  // OK once the port takes connections; INTERNAL with the end of the log when
  // the process exits first or 15 s pass (the database did not reopen, say).
  absl::Status WaitUntilListening() {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(15);
    while (SteadyClock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::InternalError(absl::StrCat("the controller exited (status ", status,
                                                ") instead of serving: ", LogTail()));
      }
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<uint16_t>(port_));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool connected =
          ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
      ::close(fd);
      if (connected) return absl::OkStatus();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return absl::InternalError("the controller did not listen within 15 s: " + LogTail());
  }

  std::string LogTail() const {
    absl::StatusOr<std::string> log = common::ReadFileToString(log_);
    if (!log.ok()) return log.status().ToString();
    return log->substr(log->size() > 2000 ? log->size() - 2000 : 0);
  }

  // Sends `signal` and reaps the process.
  void Stop(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  std::string program_;
  boost::filesystem::path home_;
  int port_;
  boost::filesystem::path log_;
  pid_t pid_ = -1;
};

struct Handed {
  std::string order_id;
  const std::string* envelope;
  offboard::v1::Receipt receipt;
};

struct ClientTally {
  std::vector<Handed> receipts;
  int resends = 0;
  std::vector<std::string> refusals;
};

bool Transient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::UNKNOWN ||
         code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::ABORTED;
}

// Submits each attestation until it has a receipt, resending the same bytes
// after a transient failure (the controller may have died mid-call).
void SubmitUntilAccepted(int port, const std::string& ca_pem, const load::Agent& agent,
                         const std::vector<load::Work>& work, std::atomic<int>& receipts,
                         ClientTally& tally) {
  auto stub = offboard::v1::AttestationService::NewStub(load::Channel(port, ca_pem, &agent));
  for (const load::Work& one : work) {
    offboard::v1::SubmitAttestationRequest request;
    request.set_order_id(one.order_id);
    request.set_envelope(one.envelope);
    for (int attempt = 0;; ++attempt) {
      offboard::v1::SubmitAttestationResponse response;
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      const grpc::Status status = stub->Submit(&context, request, &response);
      if (status.ok()) {
        tally.receipts.push_back({one.order_id, &one.envelope, response.receipt()});
        ++receipts;
        break;
      }
      if (!Transient(status.error_code()) || attempt == 50) {
        tally.refusals.push_back(absl::StrCat(one.order_id, ": code ", status.error_code(), ": ",
                                              status.error_message()));
        break;
      }
      ++tally.resends;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// What the checks found; empty when all hold.
std::vector<std::string> CheckAfterCrashes(ControllerHome& home,
                                           const std::vector<ClientTally>& tallies,
                                           int attestations) {
  std::vector<std::string> problems;
  const auto problem = [&](std::string text) {
    if (problems.size() < 20) problems.push_back(std::move(text));
  };
  absl::StatusOr<uint64_t> log_size = home.store->LogSize();
  if (!log_size.ok()) return {absl::StrCat("reading the log size: ", log_size.status().ToString())};
  absl::StatusOr<std::vector<std::string>> leaves = home.store->LeafHashes(0, *log_size);
  if (!leaves.ok()) return {absl::StrCat("reading the log: ", leaves.status().ToString())};
  MerkleTree tree;
  for (const std::string& hex : *leaves) {
    absl::StatusOr<common::MerkleHash> leaf = common::MerkleHashFromHex(hex);
    if (!leaf.ok()) return {absl::StrCat("a stored leaf hash: ", leaf.status().ToString())};
    tree.Append(*leaf);
  }

  size_t handed = 0;
  for (const ClientTally& tally : tallies) {
    for (const std::string& refusal : tally.refusals) problem("refused: " + refusal);
    for (const Handed& one : tally.receipts) {
      ++handed;
      const uint64_t index = one.receipt.log_index();
      const std::string where = absl::StrCat("receipt for ", one.order_id, " (index ", index, ")");
      absl::StatusOr<AttestationRow> row = home.store->GetAttestation(index);
      if (!row.ok()) {
        problem(where + ": no stored attestation: " + row.status().ToString());
        continue;
      }
      if (row->envelope != *one.envelope || row->order_id != one.order_id) {
        problem(where + ": the stored attestation differs from the one submitted");
      }
      absl::StatusOr<offboard::v1::TreeHead> head =
          common::VerifyReceipt(one.receipt, *one.envelope, home.key.PublicKey());
      if (!head.ok()) {
        problem(where + ": " + head.status().ToString());
        continue;
      }
      absl::StatusOr<common::MerkleHash> stored_root = tree.Root(head->tree_size());
      if (!stored_root.ok() || common::HexEncode(*stored_root) != head->root_hash_hex()) {
        problem(absl::StrCat(where, ": its tree head (size ", head->tree_size(),
                             ") is not the stored log's root at that size"));
      }
    }
  }
  if (handed != static_cast<size_t>(attestations)) {
    problem(absl::StrCat(handed, " receipts handed out for ", attestations, " attestations"));
  }
  if (*log_size != static_cast<uint64_t>(attestations)) {
    problem(absl::StrCat("the log holds ", *log_size, " attestations for ", attestations,
                         " orders: each must be there exactly once"));
  }
  absl::StatusOr<std::string> integrity = home.store->IntegrityCheck();
  if (!integrity.ok() || *integrity != "ok") {
    problem("integrity_check: " + (integrity.ok() ? *integrity : integrity.status().ToString()));
  }
  absl::StatusOr<common::Ed25519PrivateKey> key =
      common::Ed25519PrivateKey::FromPem(home.key.ToPem());
  if (!key.ok()) {
    problem("the controller key: " + key.status().ToString());
  } else if (absl::StatusOr<std::unique_ptr<TransparencyLog>> log =
                 TransparencyLog::Open(*home.store, *std::move(key));
             !log.ok()) {
    problem("the log does not reopen: " + log.status().ToString());
  }
  return problems;
}

absl::StatusOr<int> Run(const CrashOptions& options) {
  load::ScratchDir scratch;
  const boost::filesystem::path home_dir = scratch.path() / "controller";
  const boost::filesystem::path server_log = scratch.path() / "controller.log";
  // Set-up audit lines go to the server's log too.
  OFFBOARD_ASSIGN_OR_RETURN(const std::unique_ptr<load::StderrToFile> audit,
                            load::StderrToFile::Open(server_log));

  OFFBOARD_ASSIGN_OR_RETURN(load::LoadSetup setup, load::PrepareLoad(home_dir, options.load));
  const int port = setup.server->port();
  setup.server->Shutdown(std::chrono::seconds(1));
  setup.server.reset();
  setup.home.reset();  // the child process owns the database from here

  ControllerProcess controller(options.controller, home_dir, port, server_log);
  OFFBOARD_RETURN_IF_ERROR(controller.Start());

  std::vector<ClientTally> tallies(setup.agents.size());
  std::atomic<int> receipts{0};
  std::atomic<size_t> clients_done{0};
  int kills = 0;
  const SteadyClock::time_point start = SteadyClock::now();
  {
    std::vector<std::jthread> clients;
    for (size_t c = 0; c < setup.agents.size(); ++c) {
      clients.emplace_back([&, c] {
        SubmitUntilAccepted(port, setup.ca_pem, setup.agents[c], setup.shares[c], receipts,
                            tallies[c]);
        ++clients_done;
      });
    }
    std::mt19937 random(options.seed);
    std::uniform_int_distribution<int> jitter_ms(0, 5);
    const auto all_done = [&] { return clients_done.load() == setup.agents.size(); };
    for (int k = 1; k <= options.kills && !all_done(); ++k) {
      const int due = static_cast<int>(static_cast<int64_t>(k) * options.load.attestations /
                                       (options.kills + 1));
      while (receipts.load() < due && !all_done()) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (all_done()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter_ms(random)));
      controller.Stop(SIGKILL);
      ++kills;
      OFFBOARD_RETURN_IF_ERROR(controller.Start());
    }
  }  // joins the clients
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  controller.Stop(SIGTERM);

  OFFBOARD_ASSIGN_OR_RETURN(ControllerHome home, OpenControllerHome(home_dir));
  const std::vector<std::string> problems =
      CheckAfterCrashes(home, tallies, options.load.attestations);
  int resends = 0;
  for (const ClientTally& tally : tallies) resends += tally.resends;
  std::printf(
      "controller SIGKILLed %d times while %d clients submitted %d attestations (%d items)\n",
      kills, options.load.clients, options.load.attestations, options.load.items);
  std::printf("seconds: %.1f; submissions resent after a failure: %d\n", seconds, resends);
  for (const std::string& problem : problems) std::printf("FAILED: %s\n", problem.c_str());
  const bool interrupted = kills == 0 || resends > 0;
  if (!interrupted) {
    std::printf("FAILED: %d kills, but no call was interrupted: nothing was tested\n", kills);
  }
  if (problems.empty() && interrupted) {
    std::printf(
        "every receipt is backed by its stored attestation and verifies; each order "
        "logged once; integrity_check ok; the log reopens\n");
  }
  return problems.empty() && interrupted ? 0 : 1;
}

}  // namespace
}  // namespace offboard::controller

int main(int argc, char** argv) {
  offboard::controller::CrashOptions options;
  CLI::App app(
      "SIGKILL the controller at random moments while agents submit, then check the store");
  app.add_option("--controller", options.controller, "the offboard-controller program")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--attestations", options.load.attestations, "attestations to submit in all")
      ->check(CLI::PositiveNumber);
  app.add_option("--clients", options.load.clients, "concurrent agents")->check(CLI::Range(1, 256));
  app.add_option("--items", options.load.items, "items in each attestation")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--kills", options.kills, "SIGKILLs of the controller")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", options.seed, "seed of the milliseconds added to each kill");
  CLI11_PARSE(app, argc, argv);
  absl::StatusOr<int> code = offboard::controller::Run(options);
  if (!code.ok()) {
    std::cerr << "offboard-controller-crash: " << code.status() << std::endl;
    return 2;
  }
  return *code;
}
