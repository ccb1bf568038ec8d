#include "agent/service/outbox.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/service/controller_client.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

constexpr absl::string_view kEntrySuffix = ".dsse.json";

absl::Status CheckOrderId(const std::string& order_id) {
  if (IsSafeOrderId(order_id)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("order id '", absl::CHexEscape(order_id.substr(0, 160)),
                   "' cannot name a file (expected [A-Za-z0-9._-], at most 128)"));
}

absl::Status Remove(const fs::path& path) {
  boost::system::error_code error;
  fs::remove(path, error);
  if (error)
    return absl::InternalError(absl::StrCat("remove ", path.string(), ": ", error.message()));
  return absl::OkStatus();
}

}  // namespace

bool IsSafeOrderId(absl::string_view order_id) {
  if (order_id.empty() || order_id.size() > 128 || order_id.front() == '.') return false;
  return std::all_of(order_id.begin(), order_id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

Outbox::Outbox(const fs::path& data_dir)
    : dir_(data_dir / "outbox"),
      refused_dir_(dir_ / "refused"),
      receipts_dir_(data_dir / "receipts") {}

fs::path Outbox::EntryPath(const std::string& order_id) const {
  return dir_ / absl::StrCat(order_id, kEntrySuffix);
}
fs::path Outbox::ReceiptPath(const std::string& order_id) const {
  return receipts_dir_ / absl::StrCat(order_id, ".json");
}
fs::path Outbox::RefusedPath(const std::string& order_id) const {
  return refused_dir_ / absl::StrCat(order_id, kEntrySuffix);
}

absl::Status Outbox::Put(const std::string& order_id, absl::string_view envelope) {
  OFFBOARD_RETURN_IF_ERROR(CheckOrderId(order_id));
  OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(dir_));
  return common::WriteFileAtomically(EntryPath(order_id), envelope);
}

absl::StatusOr<std::vector<std::string>> Outbox::Pending() const {
  std::vector<std::string> pending;
  boost::system::error_code error;
  if (!fs::exists(dir_, error)) return pending;
  for (fs::directory_iterator it(dir_, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!absl::EndsWith(name, kEntrySuffix)) continue;  // temporaries, refused/
    if (!fs::is_regular_file(it->symlink_status())) continue;
    const std::string order_id = name.substr(0, name.size() - kEntrySuffix.size());
    if (IsSafeOrderId(order_id)) pending.push_back(order_id);
  }
  if (error)
    return absl::InternalError(absl::StrCat("list ", dir_.string(), ": ", error.message()));
  std::sort(pending.begin(), pending.end());
  return pending;
}

absl::StatusOr<std::string> Outbox::Read(const std::string& order_id) const {
  OFFBOARD_RETURN_IF_ERROR(CheckOrderId(order_id));
  return common::ReadFileToString(EntryPath(order_id), kMaxMessageBytes);
}

absl::Status Outbox::Delivered(const std::string& order_id, const offboard::v1::Receipt& receipt) {
  OFFBOARD_RETURN_IF_ERROR(CheckOrderId(order_id));
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(receipt, &json, options).ok()) {
    return absl::InternalError(absl::StrCat("receipt of order ", order_id, ": cannot encode"));
  }
  OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(receipts_dir_));
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(ReceiptPath(order_id), json));
  return Remove(EntryPath(order_id));
}

absl::Status Outbox::Refused(const std::string& order_id, absl::string_view reason) {
  OFFBOARD_RETURN_IF_ERROR(CheckOrderId(order_id));
  OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(refused_dir_));
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(
      refused_dir_ / absl::StrCat(order_id, ".reason.txt"), absl::StrCat(reason, "\n")));
  // Moved, not copied: the envelope may be too large to read back.
  boost::system::error_code error;
  fs::rename(EntryPath(order_id), RefusedPath(order_id), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("move the attestation of order ", order_id, " aside: ", error.message()));
  }
  OFFBOARD_RETURN_IF_ERROR(common::SyncDirectory(refused_dir_));
  return common::SyncDirectory(EntryPath(order_id).parent_path());
}

bool Outbox::HasReceipt(const std::string& order_id) const {
  boost::system::error_code error;
  return IsSafeOrderId(order_id) && fs::exists(ReceiptPath(order_id), error);
}

bool Outbox::WasRefused(const std::string& order_id) const {
  boost::system::error_code error;
  return IsSafeOrderId(order_id) && fs::exists(RefusedPath(order_id), error);
}

DeliveryReport DeliverOutbox(Outbox& outbox, const SubmitFunction& submit,
                             const common::Ed25519PublicKey& controller_key,
                             const std::function<bool()>& stop_requested) {
  DeliveryReport report;
  absl::StatusOr<std::vector<std::string>> pending = outbox.Pending();
  if (!pending.ok()) {
    report.local = pending.status();
    return report;
  }
  size_t next = 0;
  for (; next < pending->size() && !stop_requested(); ++next) {
    const std::string& order_id = (*pending)[next];
    absl::StatusOr<std::string> envelope = outbox.Read(order_id);
    // An attestation over what one message may carry can never be sent (a
    // wipe of some 13,000 items or more): set aside with its reason, not
    // retried forever in front of the others. It stays on disk.
    if ((!envelope.ok() && absl::IsInvalidArgument(envelope.status())) ||
        (envelope.ok() && envelope->size() > kMaxEnvelopeBytes)) {
      const std::string reason =
          absl::StrCat("not sent: the attestation is larger than the ", kMaxEnvelopeBytes,
                       " bytes one message to the controller may carry");
      common::AuditEvent("attestation_undeliverable", {{"order_id", order_id}, {"reason", reason}});
      if (const absl::Status moved = outbox.Refused(order_id, reason); !moved.ok()) {
        report.local = moved;
        break;
      }
      report.refused.emplace_back(order_id, reason);
      continue;
    }
    if (!envelope.ok()) {
      report.local = envelope.status();
      break;
    }
    absl::StatusOr<offboard::v1::Receipt> receipt = submit(order_id, *envelope);
    if (receipt.ok()) {
      // A receipt that does not verify proves nothing. The controller stored
      // the attestation or not; a resend gets the stored receipt again.
      if (absl::StatusOr<offboard::v1::TreeHead> head =
              common::VerifyReceipt(*receipt, *envelope, controller_key);
          !head.ok()) {
        const std::string reason(head.status().message());
        common::AuditEvent("receipt_invalid", {{"order_id", order_id}, {"reason", reason}});
        report.transient = absl::UnavailableError(
            absl::StrCat("order ", order_id, ": the controller's receipt does not verify (", reason,
                         "); the attestation stays in the outbox"));
        break;
      }
      const absl::Status saved = outbox.Delivered(order_id, *receipt);
      if (!saved.ok()) {
        report.local = saved;
        break;
      }
      common::AuditEvent("attestation_delivered",
                         {{"order_id", order_id},
                          {"log_index", std::to_string(receipt->log_index())},
                          {"leaf_hash", receipt->leaf_hash_hex()}});
      report.delivered.push_back(order_id);
      continue;
    }
    if (IsTransient(receipt.status())) {
      report.transient = receipt.status();
      break;
    }
    const std::string reason = receipt.status().ToString();
    const absl::Status moved = outbox.Refused(order_id, reason);
    common::AuditEvent("attestation_refused", {{"order_id", order_id}, {"reason", reason}});
    if (!moved.ok()) {
      report.local = moved;
      break;
    }
    report.refused.emplace_back(order_id, reason);
  }
  absl::StatusOr<std::vector<std::string>> left = outbox.Pending();
  report.pending = left.ok() ? left->size() : pending->size() - report.delivered.size();
  return report;
}

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
    : initial_(initial), cap_(cap), current_(initial), random_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::Next() {
  const int64_t high = current_.count();
  const int64_t low = high / 2;
  std::uniform_int_distribution<int64_t> jitter(low, high);
  const std::chrono::milliseconds delay(jitter(random_));
  current_ = std::min(cap_, current_ * 2);
  return delay;
}

}  // namespace offboard::agent
