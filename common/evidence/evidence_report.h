// The human side of an evidence package (issue 7): one certificate of
// sanitization per vendor host, after NIST SP 800-88 Rev. 1 Appendix G, and a
// self-contained HTML report (inline CSS, no scripts, no external assets)
// that puts the verdict and the discrepancies first.
//
// Both are pure functions of what the package holds, so that offboard-verify
// can rebuild the report from the raw attestations and compare it byte for
// byte with the one the controller exported:
//
//   HostCertificateBuilder certificates;
//   for (each enrolled agent) certificates.AddHost(host);
//   for (each accepted attestation) OFFBOARD_RETURN_IF_ERROR(
//       certificates.AddAttestation(agent_id, log_index, predicate));
//   std::string html = RenderEvidenceReport({.reconciliation = r, ...,
//       .certificates = std::move(certificates).Finish()});
//
// Thread-compatible: no shared state.
#ifndef OFFBOARD_COMMON_EVIDENCE_EVIDENCE_REPORT_H_
#define OFFBOARD_COMMON_EVIDENCE_EVIDENCE_REPORT_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/evidence/evidence_package.h"
#include "common/json/json_view.h"
#include "common/reconcile/attestation_parts.h"
#include "common/reconcile/reconciliation.h"

namespace offboard::common {

// An enrolled host, as the package's enrollment records name it.
struct EvidenceHost {
  std::string agent_id;
  std::string vendor_id;
  std::string host_id;
  std::string hostname;
  std::string agent_key_id;  // hex SHA-256 of the agent's Ed25519 public key
};

// NIST SP 800-88 Rev. 1 Appendix G "Certificate of Sanitization", the fields
// that apply to files deleted by an agent on a vendor host.
struct HostCertificate {
  EvidenceHost host;
  std::string machine_id;  // from the attestations' host facts
  std::string kernel;
  std::vector<std::string> order_ids;     // answered, in log order
  std::vector<uint64_t> log_indexes;      // of the attestations, ascending
  std::vector<std::string> policy_names;  // distinct, in first-seen order
  // "Clear" when every wiped item was overwritten and verified in place;
  // "Clear (logical deletion only)" when some item only reached logical_only.
  std::string method_type;
  // The overwrite passes, e.g. "overwrite: zeros, ones, random" (distinct
  // descriptions, in first-seen order, joined with "; ").
  std::string method;
  std::string tool;          // "offboard-agent <version>" (distinct, joined)
  std::string verification;  // distinct verify methods of verified passes, or "none"
  // Distinct storage descriptions of wiped items, e.g.
  // "ext4 on /dev/vda1 (rotational: no, shared extents: no)".
  std::vector<std::string> storage;
  std::optional<Assurance> assurance;  // weakest among wiped items; nullopt if none
  uint64_t items_wiped = 0;
  uint64_t items_not_wiped = 0;  // failed, needs_review, skipped, residual
  std::string started_at;   // earliest "started_at" (RFC 3339), empty if none
  std::string finished_at;  // latest "finished_at"
};

// The host of an enrollment record.
EvidenceHost EvidenceHostOf(const EnrollmentRecord& record);

// What one attestation contributes to its host's certificate: distinct
// descriptions in first-seen order, counts, and the weakest assurance.
struct CertificateFacts {
  uint64_t log_index = 0;
  std::string order_id;
  std::string run_id;
  AttestationPart part;  // of the order's attestation (attestation_parts.h)
  std::string hostname;
  std::string machine_id;
  std::string kernel;
  std::string policy_name;
  std::string tool;
  std::string started_at;
  std::string finished_at;
  uint64_t items_wiped = 0;
  uint64_t items_not_wiped = 0;
  std::optional<Assurance> assurance;
  std::vector<std::string> methods;
  std::vector<std::string> verifications;
  std::vector<std::string> storage;
};

// Pure, so that attestations can be summarized on other threads.
// INVALID_ARGUMENT naming the log index for an item that is not an object
// or a malformed "part".
absl::StatusOr<CertificateFacts> CertificateFactsOf(uint64_t log_index,
                                                    const nlohmann::json& predicate);
absl::StatusOr<CertificateFacts> CertificateFactsOf(uint64_t log_index, const SimdView& predicate);

// Folds the attestations of a contract into one certificate per host.
class HostCertificateBuilder {
 public:
  // Hosts appear in the result in the order added; a host without an
  // accepted attestation still gets a certificate (with nothing wiped).
  void AddHost(const EvidenceHost& host);

  // `predicate` is the deletion predicate of an accepted attestation of the
  // agent (agent/wipe/deletion_attestation.h). INVALID_ARGUMENT naming the log
  // index and field for an unknown agent or an item that is not an object;
  // missing optional facts are left empty, not refused.
  absl::Status AddAttestation(const std::string& agent_id, uint64_t log_index,
                              const nlohmann::json& predicate);
  // The same for facts CertificateFactsOf gave; INVALID_ARGUMENT for an
  // unknown agent.
  absl::Status AddAttestation(const std::string& agent_id, CertificateFacts facts);

  std::vector<HostCertificate> Finish() &&;

 private:
  // What Finish() joins or puts in log order, per certificate.
  struct Pending {
    std::vector<std::string> methods;
    std::vector<std::string> tools;
    std::vector<std::string> verifications;
    std::vector<std::pair<uint64_t, std::string>> orders;  // log index, order id
  };

  std::vector<HostCertificate> certificates_;
  std::vector<Pending> pending_;  // parallel to certificates_
  std::map<std::string, size_t> by_agent_;
  // An order is listed as answered on its certificate only with all parts.
  AnsweredOrders answered_;
};

struct EvidenceReportInput {
  const Reconciliation& reconciliation;
  std::string vendor_id;
  std::string exported_at;  // RFC 3339, UTC: the package's time, never "now"
  std::string organization;  // the bank, when configured; empty otherwise
  std::string officer;       // the person who exported, when configured
  std::string controller_key_id;
  std::string controller_version;
  uint64_t log_tree_size = 0;   // of the latest signed tree head in the package
  std::string log_root_hex;
  std::vector<HostCertificate> certificates;
};

// The whole HTML document (UTF-8). Every string from the package is escaped
// (& < > " '), and bytes that are not UTF-8 are replaced, so a file name cannot
// inject markup. Deterministic: the same input gives the same bytes.
// Order: verdict banner (green verified_complete, amber incomplete, red
// discrepancy) with the reasons, then the unexpected copies left in place and
// the files not wiped, then the summary per state, the certificates of
// sanitization (one per host), the list of all files, and how to verify the
// package offline (offboard-verify).
std::string RenderEvidenceReport(const EvidenceReportInput& input);

// The report as a package holds it, with the package's facts taken from its
// manifest; the exporter writes it and offboard-verify recomputes it.
std::string RenderPackageReport(const Reconciliation& reconciliation, const Manifest& manifest,
                                uint64_t log_tree_size, const std::string& log_root_hex,
                                std::vector<HostCertificate> certificates);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_EVIDENCE_EVIDENCE_REPORT_H_
