#include "agent/service/outbox.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/filesystem/operations.hpp>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "agent/service/controller_client.h"
#include "common/io/read_file.h"
#include "common/io/write_file.h"
#include "common/log/audit.h"
#include "common/reconcile/attestation_parts.h"
#include "common/signed/signed_messages.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

constexpr absl::string_view kEntrySuffix = ".dsse.json";
constexpr absl::string_view kPartMark = "+part-";

absl::Status CheckOrderId(const std::string& order_id) {
  if (IsSafeOrderId(order_id)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("order id '", absl::CHexEscape(order_id.substr(0, 160)),
                   "' cannot name a file (expected [A-Za-z0-9._-], at most 128)"));
}

// An entry's order, and which part of its attestation it is (1 of 1 for an
// entry named by the order id).
struct ParsedEntry {
  std::string order_id;
  uint32_t index = 1;
  uint32_t count = 1;
};

std::optional<ParsedEntry> ParseEntry(absl::string_view entry) {
  const size_t mark = entry.find('+');
  if (mark == absl::string_view::npos) {
    if (!IsSafeOrderId(entry)) return std::nullopt;
    return ParsedEntry{.order_id = std::string(entry)};
  }
  const absl::string_view order_id = entry.substr(0, mark);
  absl::string_view rest = entry.substr(mark);
  if (!IsSafeOrderId(order_id) || !absl::ConsumePrefix(&rest, kPartMark)) return std::nullopt;
  const size_t of = rest.find("-of-");
  uint32_t index = 0;
  uint32_t count = 0;
  if (of == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, of), &index) ||
      !absl::SimpleAtoi(rest.substr(of + 4), &count) || index < 1 || index > count || count < 2 ||
      count > common::kMaxAttestationParts || PartEntry(order_id, index, count) != entry) {
    return std::nullopt;  // only what Put writes: one part is the order's own entry
  }
  return ParsedEntry{.order_id = std::string(order_id), .index = index, .count = count};
}

absl::Status CheckEntry(const std::string& entry) {
  if (ParseEntry(entry)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("outbox entry '", absl::CHexEscape(entry.substr(0, 160)),
                   "' is neither an order id ([A-Za-z0-9._-], at most 128) nor one's part"));
}

// The entries of `order_id` among the files of `dir` ending in `suffix`.
absl::StatusOr<std::vector<ParsedEntry>> EntriesOf(const fs::path& dir, absl::string_view suffix,
                                                   absl::string_view order_id) {
  std::vector<ParsedEntry> found;
  boost::system::error_code error;
  if (!fs::is_directory(dir, error)) return found;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!absl::StartsWith(name, order_id) || !absl::EndsWith(name, suffix)) continue;
    std::optional<ParsedEntry> entry =
        ParseEntry(absl::string_view(name).substr(0, name.size() - suffix.size()));
    if (entry && entry->order_id == order_id) found.push_back(*std::move(entry));
  }
  if (error) return absl::InternalError(absl::StrCat("list ", dir.string(), ": ", error.message()));
  return found;
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

std::string PartEntry(absl::string_view order_id, uint32_t index, uint32_t count) {
  return absl::StrFormat("%s%s%05d-of-%05d", order_id, kPartMark, index, count);
}

std::string OrderOfEntry(absl::string_view entry) {
  std::optional<ParsedEntry> parsed = ParseEntry(entry);
  return parsed ? std::move(parsed->order_id) : std::string();
}

Outbox::Outbox(const fs::path& data_dir)
    : dir_(data_dir / "outbox"),
      refused_dir_(dir_ / "refused"),
      receipts_dir_(data_dir / "receipts") {}

fs::path Outbox::EntryPath(const std::string& entry) const {
  return dir_ / absl::StrCat(entry, kEntrySuffix);
}
fs::path Outbox::ReceiptPath(const std::string& entry) const {
  return receipts_dir_ / absl::StrCat(entry, ".json");
}
fs::path Outbox::RefusedPath(const std::string& entry) const {
  return refused_dir_ / absl::StrCat(entry, kEntrySuffix);
}

absl::Status Outbox::Put(const std::string& order_id, const std::vector<std::string>& envelopes) {
  OFFBOARD_RETURN_IF_ERROR(CheckOrderId(order_id));
  if (envelopes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("order ", order_id, ": no attestation to queue"));
  }
  if (envelopes.size() > common::kMaxAttestationParts) {
    return absl::InvalidArgumentError(
        absl::StrCat("order ", order_id, ": ", envelopes.size(), " parts are too many"));
  }
  OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(dir_));
  const auto count = static_cast<uint32_t>(envelopes.size());
  std::set<std::string> written;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string entry = count == 1 ? order_id : PartEntry(order_id, i + 1, count);
    OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(EntryPath(entry), envelopes[i]));
    written.insert(entry);
  }
  // What the order queued before in another cut is replaced, not sent too.
  OFFBOARD_ASSIGN_OR_RETURN(const std::vector<ParsedEntry> queued,
                            EntriesOf(dir_, kEntrySuffix, order_id));
  for (const ParsedEntry& old : queued) {
    const std::string entry =
        old.count == 1 ? old.order_id : PartEntry(old.order_id, old.index, old.count);
    if (!written.contains(entry)) OFFBOARD_RETURN_IF_ERROR(Remove(EntryPath(entry)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Outbox::Pending() const {
  std::vector<std::string> pending;
  boost::system::error_code error;
  if (!fs::exists(dir_, error)) return pending;
  for (fs::directory_iterator it(dir_, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!absl::EndsWith(name, kEntrySuffix)) continue;  // temporaries, refused/
    if (!fs::is_regular_file(it->symlink_status())) continue;
    const std::string entry = name.substr(0, name.size() - kEntrySuffix.size());
    if (ParseEntry(entry)) pending.push_back(entry);
  }
  if (error)
    return absl::InternalError(absl::StrCat("list ", dir_.string(), ": ", error.message()));
  std::sort(pending.begin(), pending.end());
  return pending;
}

absl::StatusOr<std::string> Outbox::Read(const std::string& entry) const {
  OFFBOARD_RETURN_IF_ERROR(CheckEntry(entry));
  return common::ReadFileToString(EntryPath(entry), kMaxMessageBytes);
}

absl::Status Outbox::Delivered(const std::string& entry, const offboard::v1::Receipt& receipt) {
  OFFBOARD_RETURN_IF_ERROR(CheckEntry(entry));
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(receipt, &json, options).ok()) {
    return absl::InternalError(absl::StrCat("receipt of ", entry, ": cannot encode"));
  }
  OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(receipts_dir_));
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(ReceiptPath(entry), json));
  return Remove(EntryPath(entry));
}

absl::Status Outbox::Refused(const std::string& entry, absl::string_view reason) {
  OFFBOARD_RETURN_IF_ERROR(CheckEntry(entry));
  OFFBOARD_RETURN_IF_ERROR(common::CreateDirectoriesDurably(refused_dir_));
  OFFBOARD_RETURN_IF_ERROR(common::WriteFileAtomically(
      refused_dir_ / absl::StrCat(entry, ".reason.txt"), absl::StrCat(reason, "\n")));
  // Moved, not copied: the envelope may be too large to read back.
  boost::system::error_code error;
  fs::rename(EntryPath(entry), RefusedPath(entry), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("move the attestation ", entry, " aside: ", error.message()));
  }
  OFFBOARD_RETURN_IF_ERROR(common::SyncDirectory(refused_dir_));
  return common::SyncDirectory(EntryPath(entry).parent_path());
}

bool Outbox::HasReceipt(const std::string& order_id) const {
  if (!IsSafeOrderId(order_id)) return false;
  boost::system::error_code error;
  if (fs::exists(ReceiptPath(order_id), error)) return true;
  // In parts: a receipt for each part of one count. A directory that cannot
  // be read proves no receipt.
  const absl::StatusOr<std::vector<ParsedEntry>> receipts =
      EntriesOf(receipts_dir_, ".json", order_id);
  if (!receipts.ok() || receipts->empty()) return false;
  const std::vector<ParsedEntry>& parts = *receipts;
  std::set<uint32_t> indexes;
  for (const ParsedEntry& part : parts) {
    if (part.count != parts.front().count) return false;
    indexes.insert(part.index);
  }
  return indexes.size() == parts.front().count;
}

std::optional<fs::path> Outbox::Refusal(const std::string& order_id) const {
  if (!IsSafeOrderId(order_id)) return std::nullopt;
  const absl::StatusOr<std::vector<ParsedEntry>> listed =
      EntriesOf(refused_dir_, kEntrySuffix, order_id);
  // Unreadable: the directory itself, so that the order is not taken as fine.
  if (!listed.ok()) return refused_dir_;
  const std::vector<ParsedEntry>& refused = *listed;
  if (refused.empty()) return std::nullopt;
  const ParsedEntry& first = *std::min_element(
      refused.begin(), refused.end(),
      [](const ParsedEntry& a, const ParsedEntry& b) { return a.index < b.index; });
  return RefusedPath(first.count == 1 ? first.order_id
                                      : PartEntry(first.order_id, first.index, first.count));
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
    const std::string& entry = (*pending)[next];
    const std::string order_id = OrderOfEntry(entry);
    absl::StatusOr<std::string> envelope = outbox.Read(entry);
    // An attestation over what one message may carry can never be sent (a
    // wipe of some 13,000 items or more): set aside with its reason, not
    // retried forever in front of the others. It stays on disk.
    if ((!envelope.ok() && absl::IsInvalidArgument(envelope.status())) ||
        (envelope.ok() && envelope->size() > kMaxEnvelopeBytes)) {
      const std::string reason =
          absl::StrCat("not sent: the attestation is larger than the ", kMaxEnvelopeBytes,
                       " bytes one message to the controller may carry");
      common::AuditEvent("attestation_undeliverable",
                         {{"order_id", order_id}, {"entry", entry}, {"reason", reason}});
      if (const absl::Status moved = outbox.Refused(entry, reason); !moved.ok()) {
        report.local = moved;
        break;
      }
      report.refused.emplace_back(entry, reason);
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
        common::AuditEvent("receipt_invalid",
                           {{"order_id", order_id}, {"entry", entry}, {"reason", reason}});
        report.transient = absl::UnavailableError(
            absl::StrCat(entry, ": the controller's receipt does not verify (", reason,
                         "); the attestation stays in the outbox"));
        break;
      }
      const absl::Status saved = outbox.Delivered(entry, *receipt);
      if (!saved.ok()) {
        report.local = saved;
        break;
      }
      common::AuditEvent("attestation_delivered",
                         {{"order_id", order_id},
                          {"entry", entry},
                          {"log_index", std::to_string(receipt->log_index())},
                          {"leaf_hash", receipt->leaf_hash_hex()}});
      report.delivered.push_back(entry);
      continue;
    }
    if (IsTransient(receipt.status())) {
      report.transient = receipt.status();
      break;
    }
    const std::string reason = receipt.status().ToString();
    const absl::Status moved = outbox.Refused(entry, reason);
    common::AuditEvent("attestation_refused",
                       {{"order_id", order_id}, {"entry", entry}, {"reason", reason}});
    if (!moved.ok()) {
      report.local = moved;
      break;
    }
    report.refused.emplace_back(entry, reason);
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
