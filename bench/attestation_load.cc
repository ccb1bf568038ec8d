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
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
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
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/load_support.h"
#include "common/status/status_macros.h"
#include "controller/cli/controller_home.h"
#include "controller/server/controller_server.h"
#include "offboard/v1/attestation.grpc.pb.h"

namespace offboard::controller {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct BenchOptions {
  load::LoadOptions load;
  std::string home;  // keep the controller's data directory here (for the evidence bench)
};

struct ClientResult {
  std::vector<double> latencies_ms;
  int failures = 0;
  std::string first_error;
  SteadyClock::time_point finished;
};

void Submit(int port, const std::string& ca_pem, const load::Agent& agent, const std::vector<load::Work>& work,
            std::latch& ready, ClientResult& result) {
  std::shared_ptr<grpc::Channel> channel = load::Channel(port, ca_pem, &agent);
  // Connect (TLS handshake included) before the clock starts.
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stub = offboard::v1::AttestationService::NewStub(channel);
  ready.arrive_and_wait();
  result.latencies_ms.reserve(work.size());
  for (const load::Work& one : work) {
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
struct LoadResult {
  double seconds = 0;
  double cpu_seconds = 0;            // user + system of the whole process (server and clients)
  std::vector<double> latencies_ms;  // sorted
  int failures = 0;
  std::vector<std::string> errors;  // the first one of each client that had any
};

double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Every client connects, then all start together; the clock runs until the
// last one has its last receipt.
LoadResult SubmitAll(int port, const std::string& ca_pem, const std::vector<load::Agent>& agents,
                     const std::vector<std::vector<load::Work>>& shares) {
  std::vector<ClientResult> results(agents.size());
  std::latch ready(static_cast<std::ptrdiff_t>(agents.size()) + 1);
  SteadyClock::time_point start;
  double cpu_before = 0;
  {
    std::vector<std::jthread> clients;
    for (size_t c = 0; c < agents.size(); ++c) {
      clients.emplace_back(
          [&, c] { Submit(port, ca_pem, agents[c], shares[c], ready, results[c]); });
    }
    ready.arrive_and_wait();  // every client is connected
    start = SteadyClock::now();
    cpu_before = ProcessCpuSeconds();
  }
  const double cpu_after = ProcessCpuSeconds();
  LoadResult total;
  SteadyClock::time_point finished = start;
  for (const ClientResult& result : results) {
    finished = std::max(finished, result.finished);
    total.latencies_ms.insert(total.latencies_ms.end(), result.latencies_ms.begin(),
                             result.latencies_ms.end());
    total.failures += result.failures;
    if (result.failures > 0) total.errors.push_back(result.first_error);
  }
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  total.seconds = std::chrono::duration<double>(finished - start).count();
  total.cpu_seconds = cpu_after - cpu_before;
  return total;
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

absl::StatusOr<int> Run(const BenchOptions& options) {
  load::ScratchDir scratch;
  // The server's audit lines (one per attestation) go to a file, as a
  // deployed controller's would, instead of flooding the terminal.
  OFFBOARD_ASSIGN_OR_RETURN(const std::unique_ptr<load::StderrToFile> audit,
                            load::StderrToFile::Open(scratch.path() / "audit.log"));

  const boost::filesystem::path home_dir =
      options.home.empty() ? scratch.path() / "controller" : boost::filesystem::path(options.home);
  OFFBOARD_ASSIGN_OR_RETURN(load::LoadSetup setup, load::PrepareLoad(home_dir, options.load));
  ControllerHome& home = *setup.home;
  const std::unique_ptr<ControllerServer>& server = setup.server;
  const std::vector<std::vector<load::Work>>& shares = setup.shares;
  std::cout << "attestation envelope: " << shares[0][0].envelope.size() << " bytes, "
            << options.load.items << " items" << std::endl;
  const LoadResult result = SubmitAll(server->port(), setup.ca_pem, setup.agents, shares);
  for (const std::string& error : result.errors) std::cout << "refused: " << error << std::endl;
  server->Shutdown(std::chrono::seconds(5));
  OFFBOARD_ASSIGN_OR_RETURN(const uint64_t log_size, home.store->LogSize());
  // No head at all when every submission was refused.
  const uint64_t head_size = home.store->LatestTreeHead().value_or(TreeHeadRow{}).tree_size;
  OFFBOARD_ASSIGN_OR_RETURN(const std::vector<TreeHeadRow> heads, home.store->TreeHeads());

  const int failures = result.failures;
  const double seconds = result.seconds;
  const int accepted = static_cast<int>(result.latencies_ms.size()) - failures;
  const double rate = accepted / seconds;
  const std::vector<double>& latencies = result.latencies_ms;
  std::printf("attestations:        %d accepted, %d refused (%d clients, %d items each)\n",
              accepted, failures, options.load.clients, options.load.items);
  std::printf("log:                 %llu leaves stored, latest head size %llu, %zu heads signed\n",
              static_cast<unsigned long long>(log_size), static_cast<unsigned long long>(head_size),
              heads.size());
  std::printf("seconds:             %.3f\n", seconds);
  std::printf("attestations/second: %.0f\n", rate);
  std::printf("latency p50 / p99:   %.2f ms / %.2f ms\n", load::Percentile(latencies, 0.50),
              load::Percentile(latencies, 0.99));
  std::printf(
      "cpu:                 %.1f core-seconds, %.2f ms per attestation (server and clients)\n",
      result.cpu_seconds, 1000 * result.cpu_seconds / std::max(1, accepted));
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
  offboard::controller::BenchOptions options;
  CLI::App app("Attestation intake under load: mTLS clients against an in-process controller");
  app.add_option("--attestations", options.load.attestations, "attestations to submit in all")
      ->check(CLI::PositiveNumber);
  app.add_option("--clients", options.load.clients, "concurrent clients, one enrolled agent each")
      ->check(CLI::Range(1, 256));
  app.add_option("--items", options.load.items, "items in each attestation's predicate")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--policy", options.load.policy, "wipe policy for the orders (textproto)");
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
