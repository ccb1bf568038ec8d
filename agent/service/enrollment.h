// The agent's enrollment: what `offboard-agent enroll` leaves in the data
// directory and what `offboard-agent run` reads back.
//
//   DIR/attestation-ed25519.pem (+ .pub.pem)  attestation key (agent/identity/agent_key.h)
//   DIR/agent-tls-key.pem   (0600)      TLS private key; never leaves the host
//   DIR/agent-tls.pem                   client certificate from the controller's CA
//   DIR/ca.pem                          the controller's CA, the only trust root
//   DIR/controller-ed25519.pub.pem      the key that signs wipe orders
//   DIR/enrollment.json                 {agent_id, vendor_id, host_id, controller}
//
// enrollment.json is written last, so its presence means "enrolled".
// `offboard-agent decommission` destroys both private keys and leaves
// decommissioned.json (agent/identity/decommission_record.h): after that,
// both functions below refuse the directory.
//
//   OFFBOARD_ASSIGN_OR_RETURN(Enrollment enrolled, EnrollAgent({.controller = ..., ...}));
//   OFFBOARD_ASSIGN_OR_RETURN(Enrollment enrolled, LoadEnrollment(data_dir));
//
// Not thread-safe with respect to the data directory: one process per directory.
#ifndef OFFBOARD_AGENT_SERVICE_ENROLLMENT_H_
#define OFFBOARD_AGENT_SERVICE_ENROLLMENT_H_

#include <boost/filesystem/path.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "agent/service/controller_client.h"
#include "common/crypto/ed25519.h"

namespace offboard::agent {

struct EnrollmentPaths {
  explicit EnrollmentPaths(boost::filesystem::path dir) : data_dir(std::move(dir)) {}
  boost::filesystem::path TlsKey() const { return data_dir / "agent-tls-key.pem"; }
  boost::filesystem::path TlsCertificate() const { return data_dir / "agent-tls.pem"; }
  boost::filesystem::path Ca() const { return data_dir / "ca.pem"; }
  boost::filesystem::path ControllerKey() const { return data_dir / "controller-ed25519.pub.pem"; }
  boost::filesystem::path Record() const { return data_dir / "enrollment.json"; }

  boost::filesystem::path data_dir;
};

struct EnrollOptions {
  std::string controller;  // HOST:PORT
  std::string token;
  std::string ca_file;  // PEM of the controller's CA
  boost::filesystem::path data_dir;
  std::string hostname;  // empty: this host's name
};

// Everything `run` needs, loaded and checked.
struct Enrollment {
  std::string agent_id;
  std::string vendor_id;
  std::string host_id;
  ControllerEndpoint endpoint;
  ClientCredentials credentials;
  common::Ed25519PublicKey controller_key;
};

// Creates or loads the attestation key, makes a TLS key and CSR, enrolls,
// and saves the files above. ALREADY_EXISTS when the directory is already
// enrolled; FAILED_PRECONDITION when it was decommissioned; INVALID_ARGUMENT for a bad address or CA file; the server's error
// (UNAUTHENTICATED for a wrong, used or expired token) otherwise. Nothing but
// the attestation key is written unless enrollment succeeds.
absl::StatusOr<Enrollment> EnrollAgent(const EnrollOptions& options);

// FAILED_PRECONDITION when the directory is not enrolled or was
// decommissioned; errors naming the file when one is missing or malformed.
absl::StatusOr<Enrollment> LoadEnrollment(const boost::filesystem::path& data_dir);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SERVICE_ENROLLMENT_H_
