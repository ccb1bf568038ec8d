// The evidence package (issue 7): what `offboard-controller evidence` writes
// and `offboard-verify` checks, one gzip-compressed POSIX tar file of regular
// files, in this order of sections:
//
//   manifest.json                   DSSE envelope signed by the controller key
//                                   over the manifest (below); always first
//   trust/controller.pub.pem        the controller's Ed25519 public key
//   trust/ca.pem                    the controller CA's certificate
//   enrollments.json                [EnrollmentRecord] of the vendor's agents
//   officers.json                   [OfficerRecord] of the vendor's officers
//   refusals.json                   [RefusalRecord] of the contract's orders
//   orders/<order id>.dsse.json     each wipe order, as signed
//   log/tree_heads.json             TreeHeadsRecord: signed heads + consistency
//   receipts/<index>.json           ReceiptRecord, one per attestation
//   inventory.csv                   the contract's inventory (INTERFACE.md CSV)
//   self_attestations/<n>.dsse.json vendor officers' statements, as received
//   attestations/<index>.dsse.json  each accepted envelope, as received
//   reconciliation.json             `status --json` of the contract
//   reconciliation.csv              one row per inventory file
//   report.html                     the report with certificates of sanitization
//
// <index> is the log index in 12 decimal digits, so that names sort in log
// order. The manifest lists every other member, in tar order, with its size
// and SHA-256; a reader takes members in exactly that order, so that it can
// verify attestations as they stream past with keys, orders and receipts
// already known, and reconcile them against the inventory as they come.
//
// Records are JSON objects; the functions below turn them to and from JSON
// and refuse a record with a missing or mistyped field (INVALID_ARGUMENT
// naming the field). Thread-compatible: plain data and pure functions.
#ifndef OFFBOARD_COMMON_EVIDENCE_EVIDENCE_PACKAGE_H_
#define OFFBOARD_COMMON_EVIDENCE_EVIDENCE_PACKAGE_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/encoding/rfc3339.h"  // UnixToRfc3339, used with these records

namespace offboard::common {

// The format the controller writes. Format 1 packages (written before
// reconciliation matched copies per vendor, listed enrolled hosts without an
// order and superseded expired orders) are still read, and their reports
// recomputed by the rules they were written under (ReconcileRules::kFormat1).
inline constexpr absl::string_view kEvidenceFormat = "offboard-evidence/2";
inline constexpr absl::string_view kEvidenceFormat1 = "offboard-evidence/1";
inline constexpr absl::string_view kManifestPayloadType =
    "application/vnd.offboard.evidence-manifest+json";

inline constexpr absl::string_view kManifestMember = "manifest.json";
inline constexpr absl::string_view kControllerKeyMember = "trust/controller.pub.pem";
inline constexpr absl::string_view kCaCertificateMember = "trust/ca.pem";
inline constexpr absl::string_view kInventoryMember = "inventory.csv";
inline constexpr absl::string_view kEnrollmentsMember = "enrollments.json";
inline constexpr absl::string_view kOfficersMember = "officers.json";
inline constexpr absl::string_view kRefusalsMember = "refusals.json";
inline constexpr absl::string_view kOrdersPrefix = "orders/";
inline constexpr absl::string_view kTreeHeadsMember = "log/tree_heads.json";
inline constexpr absl::string_view kReceiptsPrefix = "receipts/";
inline constexpr absl::string_view kSelfAttestationsPrefix = "self_attestations/";
inline constexpr absl::string_view kAttestationsPrefix = "attestations/";
inline constexpr absl::string_view kReconciliationJsonMember = "reconciliation.json";
inline constexpr absl::string_view kReconciliationCsvMember = "reconciliation.csv";
inline constexpr absl::string_view kReportMember = "report.html";

// Where a member belongs in the section order above; -1 for a name that is
// no member of the format.
int EvidenceSection(absl::string_view member_name);

// "attestations/000000000042.dsse.json", "receipts/000000000042.json".
std::string AttestationMemberName(uint64_t log_index);
std::string ReceiptMemberName(uint64_t log_index);
std::string OrderMemberName(absl::string_view order_id);
std::string SelfAttestationMemberName(size_t ordinal);

struct ManifestEntry {
  std::string name;
  uint64_t size = 0;
  std::string sha256;  // lowercase hex
};

struct Manifest {
  std::string format = std::string(kEvidenceFormat);
  std::string contract_id;
  std::string vendor_id;
  int64_t exported_at = 0;  // Unix seconds: the time reconciliation was computed at
  std::string organization;
  std::string officer;
  std::string controller_key_id;
  std::string controller_version;
  std::vector<ManifestEntry> members;  // every member but manifest.json, in tar order
};
nlohmann::ordered_json ManifestToJson(const Manifest& manifest);
absl::StatusOr<Manifest> ManifestFromJson(absl::string_view json_text);

struct EnrollmentRecord {
  std::string agent_id;
  std::string vendor_id;
  std::string host_id;
  std::string hostname;
  std::string attestation_key_id;
  std::string attestation_public_key_pem;
  std::string client_certificate_pem;
  std::string certificate_serial_hex;
  int64_t enrolled_at = 0;
  bool banned = false;
  int64_t banned_at = 0;
};

struct OfficerRecord {
  std::string key_id;
  std::string vendor_id;
  std::string name;
  std::string public_key_pem;
};

struct RefusalRecord {
  int64_t at = 0;
  std::string order_id;
  std::string agent_id;
  std::string reason;
};

// The receipt of one attestation, against the smallest signed tree head of
// the package that holds it.
struct ReceiptRecord {
  uint64_t log_index = 0;
  std::string order_id;
  std::string agent_id;
  std::string leaf_hash;  // hex of the RFC 6962 leaf hash of the envelope bytes
  int64_t accepted_at = 0;
  uint64_t tree_size = 0;  // of the head the proof is against
  std::vector<std::string> inclusion_proof;  // hex
};

struct ConsistencyRecord {
  uint64_t from_size = 0;
  uint64_t to_size = 0;
  std::vector<std::string> proof;  // hex
};

// The signed tree heads the contract's receipts were given, and the one the
// recipient asked to be tied in (export --since-head), ascending by size, the
// last being the log's latest at export; consecutive heads are tied by a
// consistency proof.
struct TreeHeadsRecord {
  std::vector<std::string> heads;  // signed DSSE envelopes, exact text
  std::vector<ConsistencyRecord> consistency;
};

nlohmann::ordered_json ToJson(const std::vector<EnrollmentRecord>& records);
nlohmann::ordered_json ToJson(const std::vector<OfficerRecord>& records);
nlohmann::ordered_json ToJson(const std::vector<RefusalRecord>& records);
nlohmann::ordered_json ToJson(const ReceiptRecord& record);
nlohmann::ordered_json ToJson(const TreeHeadsRecord& record);

absl::StatusOr<std::vector<EnrollmentRecord>> EnrollmentsFromJson(absl::string_view json_text);
absl::StatusOr<std::vector<OfficerRecord>> OfficersFromJson(absl::string_view json_text);
absl::StatusOr<std::vector<RefusalRecord>> RefusalsFromJson(absl::string_view json_text);
absl::StatusOr<ReceiptRecord> ReceiptFromJson(absl::string_view json_text);
absl::StatusOr<TreeHeadsRecord> TreeHeadsFromJson(absl::string_view json_text);

// Serialized the one way the package uses (compact, invalid UTF-8 replaced),
// then a newline.
std::string DumpRecord(const nlohmann::ordered_json& json);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_EVIDENCE_EVIDENCE_PACKAGE_H_
