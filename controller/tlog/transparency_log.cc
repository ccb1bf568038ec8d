#include "controller/tlog/transparency_log.h"

#include <google/protobuf/util/time_util.h>

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

absl::StatusOr<TreeHeadRow> TransparencyLog::CurrentHead(int64_t now) {
  if (latest_.tree_size == tree_.size() && !latest_.signed_envelope.empty()) return latest_;
  OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash root, tree_.Root(tree_.size()));
  offboard::v1::TreeHead head;
  head.set_tree_size(tree_.size());
  head.set_root_hash_hex(common::HexEncode(root));
  *head.mutable_timestamp() = google::protobuf::util::TimeUtil::SecondsToTimestamp(now);
  TreeHeadRow row;
  row.tree_size = head.tree_size();
  row.root_hash_hex = head.root_hash_hex();
  row.timestamp = now;
  row.signed_envelope = common::SignTreeHead(head, key_);
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

absl::StatusOr<offboard::v1::Receipt> TransparencyLog::Append(const std::string& order_id,
                                                              const std::string& agent_id,
                                                              const std::string& envelope,
                                                              int64_t now) {
  const common::MerkleHash leaf = common::LeafHash(std::string_view(envelope));
  // Outside the lock, so that the store can commit concurrent appends together.
  OFFBOARD_ASSIGN_OR_RETURN(
      AttestationRow row,
      store_.AppendAttestation(order_id, agent_id, envelope, common::HexEncode(leaf), now));
  std::lock_guard lock(mutex_);
  if (row.log_index >= tree_.size()) {
    // Entries committed together come back in any order: take every committed
    // one into the tree, so that one signed head covers the whole batch.
    OFFBOARD_ASSIGN_OR_RETURN(const uint64_t size, store_.LogSize());
    OFFBOARD_ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                              store_.LeafHashes(tree_.size(), size));
    for (const std::string& hex : hashes) {
      OFFBOARD_ASSIGN_OR_RETURN(common::MerkleHash hash, common::MerkleHashFromHex(hex));
      tree_.Append(hash);
    }
  }
  // The receipt goes out only once a head covering the entry is stored too.
  OFFBOARD_ASSIGN_OR_RETURN(TreeHeadRow head,
                            latest_.tree_size > row.log_index ? absl::StatusOr<TreeHeadRow>(latest_)
                                                              : CurrentHead(now));
  return MakeReceipt(row, head);
}

absl::StatusOr<offboard::v1::Receipt> TransparencyLog::ReceiptFor(uint64_t log_index) {
  std::lock_guard lock(mutex_);
  OFFBOARD_ASSIGN_OR_RETURN(AttestationRow row, store_.GetAttestation(log_index));
  OFFBOARD_ASSIGN_OR_RETURN(TreeHeadRow head, CurrentHead(row.accepted_at));
  return MakeReceipt(row, head);
}

}  // namespace offboard::controller
