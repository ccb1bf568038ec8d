#include "controller/tlog/transparency_log.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/encoding/hex.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"

namespace offboard::controller {
absl::StatusOr<std::unique_ptr<TransparencyLog>> TransparencyLog::Open(
    ControllerStore& store, common::Ed25519PrivateKey key) {
  std::unique_ptr<TransparencyLog> log(new TransparencyLog(store, std::move(key)));
  OFFBOARD_ASSIGN_OR_RETURN(const uint64_t size, store.LogSize());
  constexpr uint64_t kBatch = 65536;
  for (uint64_t begin = 0; begin < size; begin += kBatch) {
    OFFBOARD_ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                              store.LeafHashes(begin, std::min(size, begin + kBatch)));
    for (const std::string& hex : hashes) {
      OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash hash, common::MerkleHashFromHex(hex));
      log->tree_.Append(hash);
    }
  }
  absl::StatusOr<TreeHeadRow> latest = store.LatestTreeHead();
  if (latest.ok()) {
    OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash root, log->tree_.Root(latest->tree_size));
    if (common::HexEncode(root) != latest->root_hash_hex) {
      return absl::DataLossError(absl::StrCat(
          "transparency log: the stored entries do not give the root of the signed tree head of "
          "size ",
          latest->tree_size, "; the store was altered"));
    }
    log->latest_ = *std::move(latest);
  } else if (!absl::IsNotFound(latest.status())) {
    return latest.status();
  }
  return log;
}

uint64_t TransparencyLog::size() const {
  std::lock_guard lock(mutex_);
  return tree_.size();
}

absl::StatusOr<TreeHeadRow> TransparencyLog::SignHead(uint64_t tree_size, int64_t now) {
  OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash root, tree_.Root(tree_size));
  offboard::v1::TreeHead head;
  head.set_tree_size(tree_size);
  head.set_root_hash_hex(common::HexEncode(root));
  *head.mutable_timestamp() = google::protobuf::util::TimeUtil::SecondsToTimestamp(now);
  TreeHeadRow row;
  row.tree_size = head.tree_size();
  row.root_hash_hex = head.root_hash_hex();
  row.timestamp = now;
  row.signed_envelope = common::SignTreeHead(head, key_);
  return row;
}

absl::StatusOr<TreeHeadRow> TransparencyLog::CurrentHead(int64_t now) {
  if (latest_.tree_size == tree_.size() && !latest_.signed_envelope.empty()) return latest_;
  OFFBOARD_ASSIGN_OR_RETURN(TreeHeadRow row, SignHead(tree_.size(), now));
  OFFBOARD_RETURN_IF_ERROR(store_.PutTreeHead(row));
  latest_ = row;
  return row;
}

absl::StatusOr<offboard::v1::Receipt> TransparencyLog::MakeReceipt(const AttestationRow& row,
                                                                   const TreeHeadRow& head) {
  offboard::v1::Receipt receipt;
  receipt.set_log_index(row.log_index);
  receipt.set_leaf_hash_hex(row.leaf_hash_hex);
  OFFBOARD_ASSIGN_OR_RETURN(std::vector<common::MerkleHash> proof,
                            tree_.InclusionProof(row.log_index, head.tree_size));
  for (const common::MerkleHash& hash : proof) receipt.add_inclusion_proof_hex(common::HexEncode(hash));
  receipt.set_signed_tree_head(head.signed_envelope);
  *receipt.mutable_accepted_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(row.accepted_at);
  return receipt;
}

struct TransparencyLog::PendingAppend {
  ControllerStore::NewLeaf leaf;
  // Written by the committing caller, read by the owner once `done`.
  absl::StatusOr<offboard::v1::Receipt> receipt = absl::UnknownError("not committed");
  bool done = false;  // guarded by queue_mutex_
};

absl::StatusOr<offboard::v1::Receipt> TransparencyLog::Append(const std::string& order_id,
                                                              const std::string& agent_id,
                                                              const std::string& envelope,
                                                              int64_t now, const LeafPart& part) {
  const std::string leaf_hash_hex = common::HexEncode(common::LeafHash(std::string_view(envelope)));
  PendingAppend mine{.leaf = {order_id, agent_id, envelope, leaf_hash_hex, now, part}};
  {
    std::unique_lock lock(queue_mutex_);
    queue_.push_back(&mine);
    while (!mine.done) {
      if (committing_) {
        committed_.wait(lock);
        continue;
      }
      // No commit in progress, so `mine` is still queued: commit for everyone.
      committing_ = true;
      std::vector<PendingAppend*> batch;
      batch.swap(queue_);
      lock.unlock();
      CommitBatch(batch);
      lock.lock();
      for (PendingAppend* append : batch) append->done = true;
      committing_ = false;
      committed_.notify_all();
    }
  }
  return std::move(mine.receipt);
}

void TransparencyLog::CommitBatch(const std::vector<PendingAppend*>& batch) {
  std::lock_guard lock(mutex_);
  std::vector<ControllerStore::NewLeaf> leaves;
  int64_t now = 0;
  for (const PendingAppend* append : batch) {
    leaves.push_back(append->leaf);
    now = std::max(now, append->leaf.accepted_at);
  }
  const uint64_t size_before = tree_.size();
  TreeHeadRow head;
  absl::StatusOr<std::vector<absl::StatusOr<AttestationRow>>> rows = store_.AppendBatch(
      leaves,
      [&](const std::vector<const AttestationRow*>& appended) -> absl::StatusOr<TreeHeadRow> {
        if (appended.front()->log_index != tree_.size()) {
          return absl::InternalError(absl::StrCat(
              "transparency log: the store appends at index ", appended.front()->log_index,
              " but the tree in memory holds ", tree_.size(), " leaves; restart the controller"));
        }
        for (const AttestationRow* row : appended) {
          OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash hash,
                                    common::MerkleHashFromHex(row->leaf_hash_hex));
          tree_.Append(hash);
        }
        OFFBOARD_ASSIGN_OR_RETURN(head, SignHead(tree_.size(), now));
        return head;
      });
  if (!rows.ok()) {
    // Nothing of the batch is stored: neither may the tree hold it.
    tree_.Truncate(size_before);
    for (PendingAppend* append : batch) append->receipt = rows.status();
    return;
  }
  if (head.tree_size > latest_.tree_size) latest_ = head;
  // The receipts are made here, under the lock this caller holds anyway:
  // made by their owners, they would wait for the lock while the next batch
  // commits under it.
  for (size_t i = 0; i < batch.size(); ++i) {
    const absl::StatusOr<AttestationRow>& row = (*rows)[i];
    if (!row.ok()) {
      batch[i]->receipt = row.status();
      continue;
    }
    // A new leaf is covered by the head stored with it. A stored row
    // returned again may predate every head when the store was written
    // without the log; then a head for it is signed now.
    absl::StatusOr<TreeHeadRow> covering = latest_.tree_size > row->log_index
                                               ? absl::StatusOr<TreeHeadRow>(latest_)
                                               : CurrentHead(now);
    batch[i]->receipt = covering.ok() ? MakeReceipt(*row, *covering) : covering.status();
  }
}

absl::StatusOr<offboard::v1::Receipt> TransparencyLog::ReceiptFor(uint64_t log_index) {
  std::lock_guard lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(AttestationRow row, store_.GetAttestation(log_index));
  OFFBOARD_ASSIGN_OR_RETURN(TreeHeadRow head, CurrentHead(row.accepted_at));
  return MakeReceipt(row, head);
}

}  // namespace offboard::controller
