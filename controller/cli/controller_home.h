// The controller's data directory: what `init` creates and every other
// command opens.
//
//   DIR/controller.db            SQLite store (WAL)
//   DIR/controller-ed25519.pem   signs wipe orders and tree heads (0600)
//   DIR/controller-ed25519.pub.pem
//   DIR/ca/ca.pem, ca-key.pem    the controller's own CA (ECDSA P-256)
//   DIR/server.pem, server-key.pem  the TLS server certificate
//
// Call from one thread at start-up.
#ifndef OFFBOARD_CONTROLLER_CLI_CONTROLLER_HOME_H_
#define OFFBOARD_CONTROLLER_CLI_CONTROLLER_HOME_H_

#include <boost/filesystem/path.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/crypto/ed25519.h"
#include "controller/store/store.h"

namespace offboard::controller {

struct ControllerPaths {
  explicit ControllerPaths(boost::filesystem::path data_dir) : dir(std::move(data_dir)) {}
  boost::filesystem::path dir;
  boost::filesystem::path Database() const { return dir / "controller.db"; }
  boost::filesystem::path SigningKey() const { return dir / "controller-ed25519.pem"; }
  boost::filesystem::path PublicKey() const { return dir / "controller-ed25519.pub.pem"; }
  boost::filesystem::path CaDir() const { return dir / "ca"; }
  boost::filesystem::path ServerCertificate() const { return dir / "server.pem"; }
  boost::filesystem::path ServerKey() const { return dir / "server-key.pem"; }
};

struct ControllerHome {
  ControllerPaths paths;
  std::unique_ptr<ControllerStore> store;
  common::Ed25519PrivateKey key;
};

// Creates the data directory (0700) with a new signing key, CA, server
// certificate for `hostnames` and database. ALREADY_EXISTS, changing nothing,
// when it is initialized already; when a step fails, what this call created
// is removed again.
absl::Status InitControllerHome(const boost::filesystem::path& data_dir,
                                const std::vector<std::string>& hostnames);

// Opens an initialized data directory. FAILED_PRECONDITION saying to run
// `offboard-controller init` when it is not one.
absl::StatusOr<ControllerHome> OpenControllerHome(const boost::filesystem::path& data_dir);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_CLI_CONTROLLER_HOME_H_
