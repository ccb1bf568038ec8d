// Reconciles a contract's inventory against the deletion attestations its
// vendor's agents sent and the statements its vendor's officers signed.
//
// Pure logic: no store, no network. The caller streams everything in, one
// piece at a time, so that a contract of a million files and a million
// attested items fits in bounded memory (the inventory is kept once, keyed by
// interned dataset and binary sha256; each attestation's JSON can be dropped
// as soon as it was added):
//
//   Reconciler reconciler({.contract_id = "C-1", .now = time(nullptr),
//                          .orders = orders, .refused_attestations = refused});
//   for (ExpectedFile& row : inventory)
//     OFFBOARD_RETURN_IF_ERROR(reconciler.AddExpectedFile(std::move(row)));
//   for (...) OFFBOARD_RETURN_IF_ERROR(reconciler.AddAttestation(accepted));
//   for (...) OFFBOARD_RETURN_IF_ERROR(reconciler.AddSelfAttestation(statement));
//   Reconciliation result = std::move(reconciler).Finish();
//
// Files, attestations and self-attestations may come in any order, but adding
// the inventory first is cheaper: an item is then known at once to be a copy
// of an inventory file, and only unexpected copies are kept in full.
//
// How a file's state is decided (INTERFACE.md is authoritative): the items of
// all accepted attestations of the file's vendor's hosts with the file's
// (dataset_id, sha256) are its copies, whatever their match kind (exact,
// archive member, derived file with the same digest, tag), each (host, path,
// member chain) once. Any copy residual -> residual; else any failed ->
// failed; else any needs_review or skipped -> found_not_wiped; else any wiped
// -> wiped, with the weakest assurance among them (a wiped item without an
// assurance counts as logical_only); else named by a self-attestation ->
// self_attested; else not_found.
//
// Items whose (vendor, dataset_id, sha256) is no inventory file become
// unexpected copies: one vendor's wipe never accounts for another vendor's
// copy of the same content. A self-attestation covers by dataset (and digest)
// alone, so it covers nothing of a dataset that two vendors' inventory rows
// hold: it cannot tell their copies apart (the intake refuses such a
// statement, common/intoto/officer_scope.h; one may predate the second
// vendor's rows). Places an
// attestation's scan after the wipe could not examine are counted: while
// there are any, the contract is not complete. All attestations count alike:
// a later one does not replace an earlier one of the same host. An
// unanswered order is superseded, not outstanding, once the same host
// (vendor and host id) answered an order issued after it, if it expired or
// went to another agent (the host enrolled again): `terminate` run again
// asks such a host anew.
//
// Not thread-safe; one Reconciler per reconciliation.
#ifndef OFFBOARD_COMMON_RECONCILE_RECONCILER_H_
#define OFFBOARD_COMMON_RECONCILE_RECONCILER_H_

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/json/json_view.h"
#include "common/reconcile/attestation_parts.h"
#include "common/reconcile/reconciliation.h"

namespace offboard::common {

// One inventory row of the contract.
struct ExpectedFile {
  std::string vendor_id = {};  // the vendor that holds it
  std::string dataset_id;
  std::string path;
  std::string sha256;  // 64 lowercase hex digits
  uint64_t size = 0;
};

// One wipe order, issued to one enrolled host of the vendor.
struct HostOrder {
  std::string order_id;
  std::string host_id;
  std::string agent_id;
  int64_t expires_at = 0;  // seconds since the epoch
  bool answered = false;   // every part of an attestation for it was accepted
  std::string vendor_id = {};
  int64_t issued_at = 0;
};

// An attestation the controller verified and accepted, with the predicate of
// its in-toto statement (agent/wipe/deletion_attestation.cc builds it).
struct AcceptedAttestation {
  std::string order_id;
  std::string agent_id;
  std::string host_id;
  std::string vendor_id = {};  // the vendor the order was issued to
  uint64_t log_index = 0;
  nlohmann::json predicate;
};

// A vendor officer's signed statement for places no agent can reach. Its
// predicate holds "items": [{"dataset_id", "sha256"?, "location",
// "statement"}]; an item with a sha256 covers that file of the dataset, one
// without covers every file of the dataset.
struct SelfAttestation {
  std::string officer_key_id;
  nlohmann::json predicate;
};

// Which attestation items came from.
struct AttestationOrigin {
  std::string order_id;
  std::string agent_id;
  std::string host_id;
  std::string vendor_id = {};
  uint64_t log_index = 0;
};

// One attested item, checked and reduced to what reconciliation needs.
struct AttestedCopy {
  std::string dataset_id;
  std::optional<std::array<uint8_t, 32>> sha256;  // nullopt: the item has no digest
  std::string sha256_hex;
  CopyStatus status = CopyStatus::kFailed;
  std::optional<Assurance> assurance;
  std::string match;
  std::string exact_path;                 // path_hex when attested, else path
  std::vector<std::string> exact_member;  // member_hex when attested, else member
  std::string path;                       // as attested (lossy UTF-8), for reports
  std::vector<std::string> member;
  std::string reason;
};
// An attestation's items, and how many places its scan after the wipe could
// not examine (post_wipe_scan.errors): a copy could still be there.
struct CheckedItems {
  std::vector<AttestedCopy> copies;
  uint64_t unexamined = 0;
  // Which part of its order's attestation this is, of which run
  // (common/reconcile/attestation_parts.h).
  AttestationPart part;
  std::string run_id;
};

// The checks AddAttestation makes, as a pure function, so that many
// attestations can be checked on other threads and added in order:
//   CheckedItems items = CheckAttestedItems(a);           // any thread
//   reconciler.AddCheckedAttestation(origin, std::move(items));  // in order
// Errors as AddAttestation's.
absl::StatusOr<CheckedItems> CheckAttestedItems(const AcceptedAttestation& attestation);
// The same over a predicate in a simdjson document (common/json/json_view.h).
absl::StatusOr<CheckedItems> CheckAttestedItems(const AttestationOrigin& origin,
                                                const SimdView& predicate);

// Which rules decide: kCurrent, or those evidence packages of format 1 were
// written under (the verifier recomputes an old package by its own rules):
// copies matched by (dataset, sha256) whatever the vendor, and no expired
// order superseded. (Format 1 also listed no hosts without an order: its
// caller does not set them.)
enum class ReconcileRules { kCurrent, kFormat1 };

struct ReconcileContext {
  std::string contract_id;
  int64_t now = 0;  // seconds since the epoch; orders unanswered past expiry are overdue
  std::vector<HostOrder> orders = {};
  uint64_t refused_attestations = 0;  // attestations for the contract that intake refused
  ReconcileRules rules = ReconcileRules::kCurrent;
};

class Reconciler {
 public:
  explicit Reconciler(ReconcileContext context);

  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // A hint: about how many inventory files will be added.
  void ReserveFiles(size_t count);

  // INVALID_ARGUMENT (naming the path) for an empty dataset_id or a sha256
  // that is not 64 lowercase hex digits; nothing is added then.
  absl::Status AddExpectedFile(ExpectedFile file);

  // Adds every item of the predicate. INVALID_ARGUMENT, naming the log index
  // and the item ("attestation 7 (order o-1): items[3].status: ..."), for a
  // predicate without an "items" array, an "order_id" other than the
  // attestation's, an item without a string dataset_id, sha256 that is neither
  // empty nor 64 lowercase hex digits, an unknown status, match or assurance;
  // nothing of that attestation is added then.
  absl::Status AddAttestation(const AcceptedAttestation& attestation);

  // Adds items CheckAttestedItems returned.
  void AddCheckedAttestation(const AttestationOrigin& origin, CheckedItems items);

  // INVALID_ARGUMENT, naming the officer key and the item, for a predicate
  // without an "items" array, an item without a dataset_id, or a malformed
  // sha256; nothing of that statement is added then.
  absl::Status AddSelfAttestation(const SelfAttestation& statement);

  // The enrolled hosts that hold no order of the contract
  // (common/reconcile/order_recipients.h); at any time before Finish.
  void SetHostsWithoutOrder(std::vector<HostRef> hosts) { hosts_without_order_ = std::move(hosts); }

  // Whether the attestations added so far answer the order: all its parts
  // (HostOrder::answered aside).
  bool Answers(absl::string_view order_id) const { return answered_orders_.Answered(order_id); }

  // The result, with the verdict decided (DecideVerdict). Consumes the
  // reconciler: the inventory's strings move into the result.
  Reconciliation Finish() &&;

 private:
  using Digest = std::array<uint8_t, 32>;
  struct ContentKey {
    uint32_t dataset;  // a (vendor, dataset) pair, interned
    Digest sha256;
    bool operator==(const ContentKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const ContentKey& key) {
      return H::combine(H::combine_contiguous(std::move(h), key.sha256.data(), key.sha256.size()),
                        key.dataset);
    }
  };
  // What all copies of one content say, as a bitmask of CopyStatus.
  struct Aggregate {
    uint32_t copies = 0;
    uint8_t statuses = 0;
    int8_t weakest_wiped = -1;  // Assurance of the weakest wiped copy, -1 if none
    bool expected = false;  // an inventory file has this content
  };
  static constexpr uint32_t kNoAggregate = UINT32_MAX;

  // The index of the (vendor, dataset) pair.
  uint32_t InternDataset(absl::string_view vendor_id, absl::string_view dataset_id);
  uint32_t AggregateFor(const ContentKey& key);
  // Dataset ids that inventory rows of more than one vendor hold.
  absl::flat_hash_set<std::string> SharedDatasets() const;

  ReconcileContext context_;
  std::vector<std::string> datasets_;  // vendor '\0' dataset
  std::vector<bool> dataset_in_inventory_;  // parallel to datasets_
  absl::flat_hash_map<std::string, uint32_t> dataset_index_;
  std::string dataset_key_;             // reused by InternDataset
  uint32_t last_dataset_ = UINT32_MAX;  // the one InternDataset returned last
  absl::flat_hash_map<ContentKey, uint32_t> aggregate_index_;
  std::vector<Aggregate> aggregates_;
  std::vector<FileResult> files_;
  std::vector<uint32_t> file_aggregate_;  // parallel to files_
  // 64-bit hashes of (host, path, member chain, dataset, sha256) already
  // counted, so that one copy reported twice (an exact copy that is also a
  // derived copy, or the same host attesting twice) counts once.
  absl::flat_hash_set<uint64_t> locations_seen_;
  // Items with content not (yet) known as an inventory file, with the
  // aggregate of their content, if they have one.
  std::vector<std::pair<uint32_t, UnexpectedCopy>> unexpected_;
  // What self-attestations cover: whole datasets, and dataset '\0' sha256 hex.
  absl::flat_hash_set<std::string> self_attested_datasets_;
  absl::flat_hash_set<std::string> self_attested_contents_;
  AnsweredOrders answered_orders_;
  uint64_t accepted_attestations_ = 0;
  absl::flat_hash_set<std::string> accepted_runs_;  // order id '\0' run id
  uint64_t self_attestations_ = 0;
  uint64_t unexamined_after_wipe_ = 0;
  std::vector<HostRef> hosts_without_order_;
};

// Everything at once, for small contracts and tests.
// (Default member initializers let designated initializers leave lists out.)
struct ReconcileInput {
  ReconcileContext context;
  std::vector<ExpectedFile> inventory = {};
  std::vector<AcceptedAttestation> attestations = {};
  std::vector<SelfAttestation> self_attestations = {};
};
absl::StatusOr<Reconciliation> Reconcile(ReconcileInput input);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RECONCILE_RECONCILER_H_
