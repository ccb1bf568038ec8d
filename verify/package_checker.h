// The state offboard-verify keeps while an evidence package streams past
// (package_check.h): what the manifest promised, the keys, enrollments,
// orders, tree heads and receipts seen so far, and the reconciliation being
// recomputed. package_check.cc takes the manifest, the digests and the
// recomputed reports; package_check_records.cc the records in between.
// Internal to verify/. Not thread-safe.
#ifndef OFFBOARD_VERIFY_PACKAGE_CHECKER_H_
#define OFFBOARD_VERIFY_PACKAGE_CHECKER_H_

#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/ed25519.h"
#include "common/dsse/envelope.h"
#include "common/evidence/evidence_package.h"
#include "common/evidence/evidence_report.h"
#include "common/evidence/package_reader.h"
#include "common/intoto/officer_scope.h"
#include "common/merkle/merkle.h"
#include "common/reconcile/reconciler.h"
#include "common/tls/x509.h"
#include "verify/package_check.h"
#include "verify/worker_pool.h"

namespace offboard::verify::internal {

using common::PackageMember;

struct KnownOrder {
  std::string nonce;
  std::string agent_id;
  std::string host_id;
  std::string vendor_id = {};
  int64_t expires_at = 0;
  int64_t issued_at = 0;
};

struct KnownAgent {
  common::EnrollmentRecord record;
  common::Ed25519PublicKey key;
  common::CertificateValidity certificate;  // of its client certificate
};

// Prefixes a failure with the member and the check at fault.
inline absl::Status At(absl::string_view member, absl::string_view check, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(member, ": ", check, ": ", status.message()));
}
inline absl::Status Fail(absl::string_view member, absl::string_view check, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(member, ": ", check, ": ", why));
}

// One attestation member and everything its checks need, copied, so that a
// worker thread shares nothing mutable with the reader.
struct AttestationJob {
  std::string name;
  std::string bytes;
  std::string expected_sha256;  // the manifest's
  uint64_t index = 0;
  common::ReceiptRecord receipt;
  KnownOrder order;
  common::Ed25519PublicKey key;
};

// What a checked attestation adds to the reconciliation and its host's
// certificate, reduced on the worker and taken in log order.
struct CheckedAttestation {
  common::AttestationOrigin origin;
  common::CheckedItems items;
  common::CertificateFacts facts;
};

// Thread-safe: the manifest digest, the receipt's leaf hash, the signature by
// the enrolled key, the statement and its order and nonce, and that it was
// accepted before its order expired or is a run begun before (the intake's
// rule for late attestations). Errors name the member.
absl::StatusOr<CheckedAttestation> CheckAttestationJob(AttestationJob job);

struct CheckedOrder {
  std::string order_id;
  KnownOrder order;
};

// Thread-safe while `agents` does not change: the controller's signature, the
// member's name, the contract and the addressee, and that it was issued after
// its addressee enrolled. Errors name the member.
absl::StatusOr<CheckedOrder> CheckOrderJob(const std::string& name, const std::string& bytes,
                                           const common::Ed25519PublicKey& controller_key,
                                           const std::string& contract_id,
                                           const std::map<std::string, KnownAgent>& agents);

class PackageChecker {
 public:
  explicit PackageChecker(const PackageCheckOptions& options) : options_(options) {}

  absl::Status OnMember(PackageMember& member);
  absl::StatusOr<PackageSummary> Finish(size_t members_seen);
  absl::Status TakeAll() {
    absl::Status orders = TakeOrders(true);
    return orders.ok() ? TakeAttestations(true) : orders;
  }

 private:
  absl::Status CheckManifest(const std::string& bytes);
  // The member's place in the manifest, and unless `hash` is false its size
  // and SHA-256 (attestations are hashed by the workers).
  absl::Status CheckDigest(const PackageMember& member, bool hash = true);
  absl::Status CheckControllerKey(const std::string& pem);
  absl::Status VerifyManifest(const common::Ed25519PublicKey& key);
  absl::Status CheckEnrollments(const std::string& bytes);
  // Orders are checked by the workers too, and taken in order before the
  // first member after them.
  absl::Status SubmitOrder(PackageMember& member);
  absl::Status TakeOrders(bool all);
  WorkerPool& Pool();
  absl::Status CheckTreeHeads(const std::string& bytes);
  // options_.known_head against the package's heads.
  absl::Status CheckKnownHead();
  absl::Status CheckReceipt(const std::string& name, const std::string& bytes);
  // The receipt's time against the order, the package's export, the agent's
  // ban and its client certificate.
  absl::Status CheckAcceptedAt(const common::ReceiptRecord& receipt, const KnownOrder& order) const;
  absl::Status CheckInventory(const std::string& bytes);
  // The package's orders in their sequence, none marked answered.
  std::vector<common::HostOrder> HostOrders() const;
  // Once every attestation is added: the enrolled hosts without an order,
  // by the orders the attestations answer (all their parts).
  void SetHostsWithoutOrder();
  absl::Status CheckSelfAttestation(const std::string& name, const std::string& bytes);
  // Hands the member to a worker; takes finished ones in order.
  absl::Status SubmitAttestation(PackageMember& member);
  // Takes the oldest submitted attestation into the reconciliation, waiting
  // for it; every one when `all`.
  absl::Status TakeAttestations(bool all);
  absl::Status CheckRecomputed(const std::string& name, const std::string& bytes);

  const PackageCheckOptions& options_;
  PackageSummary summary_;
  common::DsseEnvelope manifest_envelope_;
  common::Manifest manifest_;
  std::optional<common::Ed25519PublicKey> controller_key_;
  common::UniqueX509 ca_;
  int last_section_ = 0;
  std::map<std::string, KnownAgent> agents_;
  std::vector<common::OfficerRecord> officers_;
  // The datasets each vendor holds in the contract, from the inventory: an
  // officer's statement may cover only their own vendor's.
  common::DatasetsByVendor vendor_datasets_;
  uint64_t refusals_ = 0;
  std::map<std::string, KnownOrder> orders_;
  std::vector<std::string> order_sequence_;
  std::map<uint64_t, common::MerkleHash> heads_;  // tree size -> root
  std::map<uint64_t, common::ReceiptRecord> receipts_;
  std::set<uint64_t> attested_;
  std::unique_ptr<common::Reconciler> reconciler_;
  common::HostCertificateBuilder certificates_;
  std::optional<common::Reconciliation> reconciliation_;
  std::set<int> sections_seen_;
  std::deque<std::future<absl::StatusOr<CheckedOrder>>> orders_in_flight_;
  std::deque<std::future<absl::StatusOr<CheckedAttestation>>> in_flight_;
  // Last, so that it is destroyed (its threads joined) first.
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace offboard::verify::internal

#endif  // OFFBOARD_VERIFY_PACKAGE_CHECKER_H_
