// The controller's storage: enrollment tokens and enrolled agents, the bank's
// inventory, signed wipe orders, accepted attestations with their place in the
// transparency log, signed tree heads, refused attestations and vendor
// self-attestations. The controller's services talk to this interface only, so
// that PostgreSQL can replace the embedded SQLite store (sqlite_store.h) when
// several controller replicas are needed.
//
//   OFFBOARD_ASSIGN_OR_RETURN(std::unique_ptr<ControllerStore> store,
//                             OpenSqliteStore(data_dir / "controller.db"));
//   OFFBOARD_ASSIGN_OR_RETURN(AttestationRow row,
//                             store->AppendAttestation(order_id, agent_id, envelope,
//                                                      leaf_hash_hex, now));
//   // row.log_index is durable here. The transparency log appends with
//   // AppendBatch instead, which stores the signed head in the same commit.
//
// Thread-safe: every implementation may be called from many gRPC handlers at
// once. Every method is atomic: it either does all it says or changes nothing.
// Envelopes and fingerprint-set JSON are kept as exact bytes (NUL included),
// because signatures and leaf hashes are computed over them.
#ifndef OFFBOARD_CONTROLLER_STORE_STORE_H_
#define OFFBOARD_CONTROLLER_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace offboard::controller {

// A single-use enrollment token. Only its SHA-256 is stored, so a copy of the
// database does not let anyone enroll.
struct EnrollmentToken {
  std::string token_sha256_hex;
  std::string vendor_id;
  std::string host_id;
  int64_t created_at = 0;  // seconds since the Unix epoch, as are all times here
  int64_t expires_at = 0;  // the token is valid while now < expires_at
  bool used = false;
};

// An enrolled agent: who it is (bound to one vendor and host), the key that
// signs its attestations and the client certificate the controller issued.
struct Enrollment {
  std::string agent_id;
  std::string vendor_id;
  std::string host_id;
  std::string hostname;
  std::string attestation_public_key_pem;
  std::string attestation_key_id;  // hex SHA-256 of the raw Ed25519 public key
  std::string client_certificate_pem;
  std::string certificate_serial_hex;
  int64_t enrolled_at = 0;
  bool banned = false;
  int64_t banned_at = 0;  // 0 unless banned
};

// One inventory row, as common::InventoryRecord (without its line number).
// Identified by (contract_id, dataset_id, path).
struct InventoryFileRow {
  std::string contract_id;
  std::string vendor_id;
  std::string dataset_id;
  std::string classification;
  std::string path;
  uint64_t size = 0;
  std::string sha256;
};

// A dataset's record fingerprints: the bank's JSON file text, byte for byte.
struct FingerprintSetRow {
  std::string dataset_id;
  std::string json;
};

// A signed wipe order addressed to one agent.
struct OrderRow {
  std::string order_id;
  std::string contract_id;
  std::string vendor_id;
  std::string host_id;
  std::string agent_id;
  std::string nonce_hex;
  std::string policy_name;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  std::string envelope;  // the signed DSSE JSON, exact bytes
};

// Which part of its order's attestation an envelope is, and of which run
// (common/reconcile/attestation_parts.h): the parts an agent sends for one
// order share the run id and the count. Attestations stored before parts
// existed read as run "" part 1 of 1.
struct LeafPart {
  std::string run_id;
  uint32_t index = 1;  // 1-based
  uint32_t count = 1;
};

// An accepted attestation and its leaf in the transparency log.
struct AttestationRow {
  uint64_t log_index = 0;  // 0-based and dense: leaf n of the log
  std::string order_id;
  std::string agent_id;
  std::string envelope;  // exact bytes as received
  std::string leaf_hash_hex;
  int64_t accepted_at = 0;
  LeafPart part = {};
};

// A signed tree head of the transparency log.
struct TreeHeadRow {
  uint64_t tree_size = 0;
  std::string root_hash_hex;
  int64_t timestamp = 0;
  std::string signed_envelope;  // exact bytes
};

// An attestation that was refused; it counts as a discrepancy for the
// contract of its order.
struct RefusalRow {
  int64_t at = 0;
  std::string order_id;
  std::string agent_id;
  std::string reason;
};

// A vendor officer's signed statement for places no agent reaches.
struct SelfAttestationRow {
  std::string contract_id;
  std::string officer_key_id;
  std::string envelope;  // exact bytes
  int64_t accepted_at = 0;
};

// Errors: every method returns the canonical codes named below for the cases
// a caller acts on; UNAVAILABLE when the database stayed locked by another
// process past the busy timeout (worth retrying), DATA_LOSS when it is
// corrupt, RESOURCE_EXHAUSTED when the disk is full, INTERNAL otherwise.
// Messages name the database file.
class ControllerStore {
 public:
  virtual ~ControllerStore() = default;

  // --- Tokens and enrollment ---

  // Stores a new token (`used` is stored as given). ALREADY_EXISTS when a
  // token with this hash exists.
  virtual absl::Status PutToken(const EnrollmentToken& token) = 0;

  // Completes an enrollment once its token has said whose it is: the
  // enrollment's vendor_id and host_id are set; it fills in the client
  // certificate. It runs inside the store's write transaction, so it must
  // not call the store.
  using CompleteEnrollment = std::function<absl::Status(Enrollment&)>;

  // Atomically: checks that the token exists, is unused and is unexpired at
  // `now`, gives `enrollment` the token's vendor and host (whatever it held
  // there), calls `complete` on it (if given), marks the token used and
  // stores the enrollment; returns the stored enrollment.
  // PERMISSION_DENIED "token unknown, used or expired" for any of the three,
  // so that a caller learns nothing about which tokens exist. When `complete`
  // fails, its status is returned, nothing is stored and the token stays
  // unused; so does ALREADY_EXISTS when `enrollment.agent_id` is enrolled.
  virtual absl::StatusOr<Enrollment> ConsumeTokenAndEnroll(absl::string_view token_sha256_hex,
                                                           int64_t now, Enrollment enrollment,
                                                           const CompleteEnrollment& complete) = 0;

  // NOT_FOUND when no agent has this id.
  virtual absl::StatusOr<Enrollment> GetEnrollment(absl::string_view agent_id) = 0;

  // The vendor's enrollments (all of them for an empty `vendor_id`), banned
  // ones included, ordered by agent id.
  virtual absl::StatusOr<std::vector<Enrollment>> ListEnrollments(absl::string_view vendor_id) = 0;

  // Marks the agent banned at `at`, or at its latest accepted attestation's
  // time if that is later (the ban took effect after that was logged);
  // banning again keeps the first time. NOT_FOUND when no agent has this id.
  virtual absl::Status BanAgent(absl::string_view agent_id, int64_t at) = 0;

  // --- Inventory ---

  struct ImportCounts {
    uint64_t files_added = 0;
    uint64_t files_unchanged = 0;  // already stored with the same values
    uint64_t fingerprint_sets_added = 0;
  };

  // Stores all rows and fingerprint sets in one transaction. A row whose
  // (contract_id, dataset_id, path) is stored (or given earlier in `files`)
  // with another vendor, classification, size or sha256, or a fingerprint set
  // whose dataset is stored with other JSON, is FAILED_PRECONDITION naming
  // it, and nothing is stored. Importing the same rows again adds nothing.
  virtual absl::StatusOr<ImportCounts> ImportInventory(
      const std::vector<InventoryFileRow>& files,
      const std::vector<FingerprintSetRow>& fingerprints) = 0;

  // Hands the contract's rows to `fn` in (dataset_id, path) order, one at a
  // time from a consistent snapshot, without holding them all in memory. The
  // row is valid only during the call. A non-OK status from `fn` stops the
  // walk and is returned unchanged. An unknown contract has no rows (OK).
  // `fn` may call the store (the walk does not block other callers).
  virtual absl::Status ForEachInventoryFile(
      absl::string_view contract_id,
      const std::function<absl::Status(const InventoryFileRow&)>& fn) = 0;

  // Contracts with at least one inventory row, sorted.
  virtual absl::StatusOr<std::vector<std::string>> ContractIds() = 0;

  // Fingerprint sets of the datasets in the contract's inventory, by dataset.
  virtual absl::StatusOr<std::vector<FingerprintSetRow>> FingerprintSetsForContract(
      absl::string_view contract_id) = 0;

  // --- Orders ---

  // Stores all orders in one transaction. ALREADY_EXISTS naming the order
  // when its id is taken (nothing stored); FAILED_PRECONDITION when an
  // order's agent is not enrolled.
  virtual absl::Status PutOrders(const std::vector<OrderRow>& orders) = 0;

  // NOT_FOUND when no order has this id.
  virtual absl::StatusOr<OrderRow> GetOrder(absl::string_view order_id) = 0;

  // Orders by (issued_at, order_id).
  virtual absl::StatusOr<std::vector<OrderRow>> OrdersForAgent(absl::string_view agent_id) = 0;
  virtual absl::StatusOr<std::vector<OrderRow>> OrdersForContract(
      absl::string_view contract_id) = 0;

  // --- Attestations and the transparency log ---

  // One envelope to append to the log (see AppendBatch).
  struct NewLeaf {
    absl::string_view order_id;
    absl::string_view agent_id;
    absl::string_view envelope;
    absl::string_view leaf_hash_hex;
    int64_t accepted_at = 0;
    LeafPart part = {};
  };
  // Called inside AppendBatch's transaction with the rows it appended, in
  // log order (consecutive indexes from the log size before the batch);
  // returns the signed tree head that covers them, stored in the same
  // transaction. An error rolls the whole batch back.
  using HeadForBatch = std::function<absl::StatusOr<TreeHeadRow>(
      const std::vector<const AttestationRow*>& appended)>;

  // In one transaction: stores each leaf's envelope as the next leaf of the
  // log (index = log size so far) with its leaf hash, then, when any leaf
  // was new and `head_for` is given, the head it returns (checked as
  // PutTreeHead checks). Returns one result per leaf, in order, only once the
  // commit is durable, so that receipts may be sent:
  //   - the new row;
  //   - the stored row unchanged for the same envelope bytes of the same
  //     order, agent and part (a client retrying after a lost receipt, or
  //     twice in one batch);
  //   - ALREADY_EXISTS when the order and agent have another envelope stored
  //     as this part, or parts of another run or count;
  //     NOT_FOUND when the order is unknown; FAILED_PRECONDITION when the
  //     agent is not enrolled; PERMISSION_DENIED when it is banned. A
  //     refused leaf takes no index; the others go on.
  // An error of the whole call (the head, the commit, an I/O error) means
  // nothing of the batch was stored.
  virtual absl::StatusOr<std::vector<absl::StatusOr<AttestationRow>>> AppendBatch(
      const std::vector<NewLeaf>& leaves, const HeadForBatch& head_for) = 0;

  // One leaf in its own transaction, without a head: AppendBatch of one.
  absl::StatusOr<AttestationRow> AppendAttestation(absl::string_view order_id,
                                                   absl::string_view agent_id,
                                                   absl::string_view envelope,
                                                   absl::string_view leaf_hash_hex,
                                                   int64_t accepted_at) {
    absl::StatusOr<std::vector<absl::StatusOr<AttestationRow>>> results =
        AppendBatch({{order_id, agent_id, envelope, leaf_hash_hex, accepted_at}}, nullptr);
    if (!results.ok()) return results.status();
    return std::move(results->front());
  }

  // The attestations answering the contract's orders, by log index.
  virtual absl::StatusOr<std::vector<AttestationRow>> AttestationsForContract(
      absl::string_view contract_id) = 0;

  // NOT_FOUND when `log_index` is not below the log size.
  virtual absl::StatusOr<AttestationRow> GetAttestation(uint64_t log_index) = 0;

  // The ids of the contract's orders that an attestation answers (every
  // part of it stored), sorted; without reading the attestations themselves.
  virtual absl::StatusOr<std::vector<std::string>> AnsweredOrders(
      absl::string_view contract_id) = 0;

  // This part of this agent's attestation for this order; NOT_FOUND when none.
  virtual absl::StatusOr<AttestationRow> AttestationFor(absl::string_view order_id,
                                                        absl::string_view agent_id,
                                                        uint32_t part_index = 1) = 0;

  // The number of leaves in the log.
  virtual absl::StatusOr<uint64_t> LogSize() = 0;

  // The leaf hashes (hex) of leaves [begin, end). OUT_OF_RANGE unless
  // begin <= end <= LogSize().
  virtual absl::StatusOr<std::vector<std::string>> LeafHashes(uint64_t begin, uint64_t end) = 0;

  // Stores a signed tree head. Idempotent per tree size: a head for a size
  // already stored with the same root keeps the first one and is OK; another
  // root for that size (a split view) is FAILED_PRECONDITION, as is a size
  // above the log size.
  virtual absl::Status PutTreeHead(const TreeHeadRow& head) = 0;

  // The head with the largest tree size; NOT_FOUND when none is stored.
  virtual absl::StatusOr<TreeHeadRow> LatestTreeHead() = 0;

  // All heads by tree size.
  virtual absl::StatusOr<std::vector<TreeHeadRow>> TreeHeads() = 0;

  // --- Refusals and self-attestations ---

  // Records a refused attestation. Its order id need not exist (an unknown
  // order may be the very reason); such a refusal belongs to no contract.
  virtual absl::Status PutRefusal(const RefusalRow& refusal) = 0;

  // The refusals whose order belongs to the contract, by time.
  virtual absl::StatusOr<std::vector<RefusalRow>> RefusalsForContract(
      absl::string_view contract_id) = 0;

  // Stores a vendor officer's statement; the same envelope for the same
  // contract again is OK and stores nothing.
  virtual absl::Status PutSelfAttestation(const SelfAttestationRow& row) = 0;

  // The contract's self-attestations, in the order they were stored.
  virtual absl::StatusOr<std::vector<SelfAttestationRow>> SelfAttestationsForContract(
      absl::string_view contract_id) = 0;

  // --- Maintenance ---

  // The result of SQLite's "PRAGMA integrity_check" (or its equivalent),
  // followed by a foreign-key check: "ok" for a sound database, otherwise the
  // problems found, one a line.
  virtual absl::StatusOr<std::string> IntegrityCheck() = 0;
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_STORE_STORE_H_
