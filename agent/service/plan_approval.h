// A person's approval of a wipe plan before the agent carries it out
// (`offboard-agent run --approve-plan`, then `offboard-agent approve`).
//
// With --approve-plan, the agent scans for each new order, writes the plan
// and waits; `approve` records who approved which plan. The approval binds to
// the SHA-256 of the plan document, byte for byte. The agent scans again
// before it wipes; when the plan comes out differently (a file appeared,
// vanished or changed) it writes the new plan and waits again, so it never
// wipes more than a person saw.
//
//   DIR/orders/<order_id>/plan.json      the plan document (same plan, same bytes)
//   DIR/orders/<order_id>/approval.json  {order_id, plan_sha256, approved_by, approved_at}
//
//   ApprovalCheck check;
//   request.plan_gate = ApprovalGate(data_dir, order, order_sha256, roots, &check);
//   ...
//   OFFBOARD_ASSIGN_OR_RETURN(ApprovedPlan approved,
//                             ApprovePlan(data_dir, order_id, "alice", NowRfc3339()));
//
// Both files are written atomically. `approve` runs beside the agent's
// process: it hashes the plan it read and showed, so a plan replaced in
// between is simply not the approved one. Functions are thread-compatible.
#ifndef OFFBOARD_AGENT_SERVICE_PLAN_APPROVAL_H_
#define OFFBOARD_AGENT_SERVICE_PLAN_APPROVAL_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/wipe/deletion_attestation.h"
#include "agent/wipe/wipe_plan.h"
#include "agent/wipe/wipe_run.h"
#include "offboard/v1/orders.pb.h"

namespace offboard::agent {

boost::filesystem::path PlanPath(const boost::filesystem::path& data_dir,
                                 const std::string& order_id);
boost::filesystem::path ApprovalPath(const boost::filesystem::path& data_dir,
                                     const std::string& order_id);

// The command a person runs to approve the order's plan, ready to paste.
std::string ApproveCommand(const boost::filesystem::path& data_dir, const std::string& order_id);

struct PlanCounts {
  uint64_t targets = 0;                     // files on disk that the plan acts on
  uint64_t files = 0;                       // findings that are whole files (exact copies, tagged)
  uint64_t archive_members = 0;             // findings inside archives
  uint64_t derived_copies = 0;              // findings that are extracts holding records
  std::map<std::string, uint64_t> actions;  // targets by action ("wipe_file": 2, ...)
};
PlanCounts CountPlan(const WipePlan& plan);

// The plan document: {"order_id", "contract_id", "order_sha256" (of the
// signed order envelope), "roots", "policy", "counts", "targets": [{"path"
// (+ "path_hex" when not UTF-8), "action", "reason", "file": {device, inode,
// size, mtime_ns, link_count}, "findings": [{"dataset_id", "match", "sha256",
// "size", "records_matched", "member" (+ "member_hex")}]}]}, indented JSON.
// The same inputs always give the same bytes: the document is what an
// approval's plan_sha256 is computed over. It names every file's identity as
// scanned, so a file that was replaced or written to since is another plan.
std::string RenderPlanDocument(const offboard::v1::WipeOrder& order,
                               const std::string& order_sha256,
                               const std::vector<std::string>& roots, const WipePlan& plan);

// For people: the order, the counts, then one line per target (at most
// `max_targets`, then how many more). Tolerates a document that lacks keys.
std::string DescribePlanDocument(const nlohmann::json& document, size_t max_targets);

// The order's recorded approval. NOT_FOUND when there is none;
// INVALID_ARGUMENT naming the file when it is malformed or for another order.
absl::StatusOr<PlanApproval> ReadApproval(const boost::filesystem::path& data_dir,
                                          const std::string& order_id);

// What the approval gate found on its last call.
struct ApprovalCheck {
  bool held = false;
  std::string plan_sha256;  // of the plan document just rendered
  std::string reason;       // why it was held: no approval yet, or the plan changed
  PlanCounts counts;
};

// The gate of `run --approve-plan` for one order (agent/wipe/wipe_run.h): the
// plan proceeds when the order's approval names the SHA-256 of its document,
// carrying the approval into the journal and the attestation. Otherwise the
// document is written to plan.json (unless it holds those bytes already), an
// audit event says the order awaits approval, and the run is held. `check`
// must outlive the gate. Errors: writing plan.json.
PlanGate ApprovalGate(const boost::filesystem::path& data_dir, const offboard::v1::WipeOrder& order,
                      const std::string& order_sha256, const std::vector<std::string>& roots,
                      ApprovalCheck* check);

struct ApprovedPlan {
  PlanApproval approval;
  nlohmann::json document;  // the plan that was approved, parsed
  boost::filesystem::path approval_path;
};

// Records that `approved_by` approved, at `approved_at` (RFC 3339), the plan
// now in the order's plan.json. Errors, naming the order and file:
// INVALID_ARGUMENT for an order id that cannot name a file, an empty
// `approved_by` or a plan.json that is not the order's plan document;
// NOT_FOUND for an order this agent never took; FAILED_PRECONDITION for an
// order with no plan yet, or one that was carried out already.
absl::StatusOr<ApprovedPlan> ApprovePlan(const boost::filesystem::path& data_dir,
                                         const std::string& order_id,
                                         const std::string& approved_by,
                                         const std::string& approved_at);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_SERVICE_PLAN_APPROVAL_H_
