// What the controller's load benchmarks share: a controller home in a
// scratch directory with the real server on loopback, agents enrolled through
// the Enroll RPC (each with its own mTLS identity and attestation key), one
// signed wipe order per attestation, and every attestation pre-built as the
// agent would build it (an in-toto deletion statement with realistic items,
// DSSE-signed by the agent's enrolled key).
//
//   OFFBOARD_ASSIGN_OR_RETURN(load::LoadSetup setup,
//       load::PrepareLoad(scratch.path() / "controller", {.clients = 8, ...}));
//   // setup.shares[c]: what client c submits, as setup.agents[c]
#ifndef OFFBOARD_BENCH_LOAD_SUPPORT_H_
#define OFFBOARD_BENCH_LOAD_SUPPORT_H_

#include <grpcpp/grpcpp.h>

#include <boost/filesystem.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ed25519.h"
#include "common/tls/key_and_csr.h"
#include "controller/cli/controller_home.h"
#include "controller/server/controller_server.h"

namespace offboard::controller::load {

inline constexpr absl::string_view kVendor = "vendor-load";
inline constexpr absl::string_view kContract = "c-load";

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

std::string RandomHex(size_t bytes);

// Sends this process's stderr (where audit lines go) to `path`, appending,
// as a deployed controller's would go to a file, until destroyed.
class StderrToFile {
 public:
  static absl::StatusOr<std::unique_ptr<StderrToFile>> Open(const boost::filesystem::path& path);
  ~StderrToFile();
  StderrToFile(const StderrToFile&) = delete;
  StderrToFile& operator=(const StderrToFile&) = delete;

 private:
  explicit StderrToFile(int saved) : saved_(saved) {}
  int saved_;
};

// An mTLS channel to the controller on 127.0.0.1:`port` as `agent` (none:
// no client certificate), with its own TCP connection.
std::shared_ptr<grpc::Channel> Channel(int port, const std::string& ca_pem, const Agent* agent);

struct LoadOptions {
  int attestations = 10000;
  int clients = 8;
  int items = 100;
  std::string policy = OFFBOARD_SOURCE_DIR "/policies/nist-800-88-clear.textproto";
};

struct LoadSetup {
  std::unique_ptr<ControllerHome> home;
  std::unique_ptr<ControllerServer> server;  // running on 127.0.0.1:server->port()
  std::string ca_pem;
  std::vector<Agent> agents;              // one per client
  std::vector<std::vector<Work>> shares;  // client c's attestations, in order
};

// Initializes a controller home at `home_dir` (which must not exist yet),
// starts the server, enrolls the agents, imports the inventory, issues the
// orders and builds the attestations (in parallel, one thread per client).
absl::StatusOr<LoadSetup> PrepareLoad(const boost::filesystem::path& home_dir,
                                      const LoadOptions& options);

// The value at `fraction` (0..1) of an ascending vector; 0 when empty.
double Percentile(const std::vector<double>& sorted, double fraction);

}  // namespace offboard::controller::load

#endif  // OFFBOARD_BENCH_LOAD_SUPPORT_H_
