// The transparency log (ARCHITECTURE.md, "Tamper evidence"): every accepted
// attestation envelope, byte for byte, is a leaf of an RFC 6962/9162 Merkle
// tree; its receipt carries the leaf index, an inclusion proof and a tree
// head signed by the controller, handed out only after both the envelope and
// the tree head are committed to the store. Every signed tree head is kept,
// so that evidence packages can prove the heads consistent with each other.
//
//   OFFBOARD_ASSIGN_OR_RETURN(std::unique_ptr<TransparencyLog> log,
//                             TransparencyLog::Open(store, controller_key));
//   OFFBOARD_ASSIGN_OR_RETURN(v1::Receipt receipt, log->Append(order, agent, envelope, now));
//
// Thread-safe: concurrent appends queue, and whichever caller finds no commit
// in progress commits everything queued in one transaction together with the
// signed head that covers it (group commit), so a batch costs one fsync and
// one signature. Nobody returns before the commit holding their leaf is
// durable, so receipts stay truthful. The tree and heads change under a lock.
#ifndef OFFBOARD_CONTROLLER_TLOG_TRANSPARENCY_LOG_H_
#define OFFBOARD_CONTROLLER_TLOG_TRANSPARENCY_LOG_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/crypto/ed25519.h"
#include "controller/store/store.h"
#include "controller/tlog/merkle_tree.h"
#include "offboard/v1/attestation.pb.h"

namespace offboard::controller {

class TransparencyLog {
 public:
  // Rebuilds the tree from the stored leaf hashes. DATA_LOSS when they do not
  // give the root of the latest stored tree head (the store was altered).
  static absl::StatusOr<std::unique_ptr<TransparencyLog>> Open(ControllerStore& store,
                                                               common::Ed25519PrivateKey key);

  // Logs `envelope`, `part` of the attestation of (order, agent), and
  // returns its receipt. The same bytes again return a receipt for the same
  // index; other bytes for a part that is stored, or a part of another run
  // or count, are ALREADY_EXISTS (from the store). `now` is Unix seconds.
  absl::StatusOr<offboard::v1::Receipt> Append(const std::string& order_id,
                                               const std::string& agent_id,
                                               const std::string& envelope, int64_t now,
                                               const LeafPart& part = {});

  // A receipt for an entry already in the log, against the latest tree head.
  absl::StatusOr<offboard::v1::Receipt> ReceiptFor(uint64_t log_index);

  uint64_t size() const;

 private:
  struct PendingAppend;  // one Append call waiting for a commit

  TransparencyLog(ControllerStore& store, common::Ed25519PrivateKey key)
      : store_(store), key_(std::move(key)) {}
  // Requires mutex_. A signed head for the first `tree_size` leaves.
  absl::StatusOr<TreeHeadRow> SignHead(uint64_t tree_size, int64_t now);
  // Requires mutex_. Signs and stores a head for the current tree if the
  // latest stored one is older.
  absl::StatusOr<TreeHeadRow> CurrentHead(int64_t now);
  // Commits `batch` with its head in one store transaction and sets each
  // one's receipt (or error); takes mutex_.
  void CommitBatch(const std::vector<PendingAppend*>& batch);
  absl::StatusOr<offboard::v1::Receipt> MakeReceipt(const AttestationRow& row,
                                                    const TreeHeadRow& head);

  ControllerStore& store_;
  common::Ed25519PrivateKey key_;
  mutable std::mutex mutex_;
  MerkleTree tree_;
  TreeHeadRow latest_;  // the newest head handed out (tree_size 0 before any)

  std::mutex queue_mutex_;
  std::condition_variable committed_;
  std::vector<PendingAppend*> queue_;  // guarded by queue_mutex_
  bool committing_ = false;            // guarded by queue_mutex_
};

}  // namespace offboard::controller

#endif  // OFFBOARD_CONTROLLER_TLOG_TRANSPARENCY_LOG_H_
