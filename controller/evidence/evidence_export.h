// `offboard-controller evidence`: writes a contract's evidence package
// (common/evidence/evidence_package.h) from the store — the inventory, the
// orders and every attestation accepted by the export's time, as stored, the
// enrollments and officer keys,
// receipts with inclusion proofs against the signed tree heads handed out,
// consistency proofs up to the latest head, the reconciliation as JSON and CSV,
// and the HTML report with one certificate of sanitization per host — and
// signs its manifest with the controller key.
//
//   OFFBOARD_ASSIGN_OR_RETURN(ExportSummary summary,
//                             ExportEvidence(home, {.contract_id = "C-1", .out = "c1.tar.gz"}));
//
// Reads the store only; the package appears at `out` whole or not at all.
// Thread-compatible.
#ifndef OFFBOARD_CONTROLLER_EVIDENCE_EVIDENCE_EXPORT_H_
#define OFFBOARD_CONTROLLER_EVIDENCE_EVIDENCE_EXPORT_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/reconcile/reconciliation.h"
#include "controller/cli/controller_home.h"

namespace offboard::controller {

struct ExportOptions {
  std::string contract_id;
  boost::filesystem::path out;
  int64_t now = 0;            // the package's time: reconciliation is computed at it
  std::string organization = {};  // shown on the certificates when given
  std::string officer = {};       // the person exporting, when given
  // A signed tree head the recipient kept from before (a package, a
  // receipt), exact text: the package then holds it among its heads, tied to
  // the latest by consistency proofs, so that `offboard-verify --known-head`
  // proves this log extends the one the recipient saw.
  std::optional<std::string> since_head = {};
};

struct ExportSummary {
  common::Verdict verdict = common::Verdict::kIncomplete;
  uint64_t members = 0;
  uint64_t attestations = 0;
  uint64_t tree_size = 0;  // of the latest signed tree head in the package
};

// NOT_FOUND for a contract without inventory; ALREADY_EXISTS when `out`
// exists; DATA_LOSS when the store's log does not match its signed heads.
absl::StatusOr<ExportSummary> ExportEvidence(ControllerHome& home, const ExportOptions& options);

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_EVIDENCE_EVIDENCE_EXPORT_H_
