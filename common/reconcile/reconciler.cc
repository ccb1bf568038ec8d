#include "common/reconcile/reconciler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/json/json_view.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

using Json = nlohmann::json;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: digests are lowercase everywhere (INTERFACE.md)
}

// Strict: exactly 64 lowercase hex digits.
bool DecodeSha256(absl::string_view hex, std::array<uint8_t, 32>* out) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    const int high = HexValue(hex[2 * i]);
    const int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    (*out)[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

// A dataset and a digest in hex, as one key.
std::string ContentName(absl::string_view dataset_id, absl::string_view sha256_hex) {
  return absl::StrCat(dataset_id, absl::string_view("\0", 1), sha256_hex);
}

// The string at `key`, nullptr when absent or not a string.
const std::string* StringField(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

bool IsMatchKind(absl::string_view match) {
  return match == "exact" || match == "archive" || match == "derived" || match == "tag";
}

// The fields of one attested item that reconciliation reads, found in one
// walk over its keys (a lookup per field would walk the tree many times; a
// contract may have a million items).
template <typename View>
struct ItemFields {
  View path, path_hex, member, member_hex, dataset_id, sha256, match, status, assurance, reason;

  explicit ItemFields(View item) {
    item.ForEachMember([this](std::string_view key, View value) {
      // string_view comparison checks the length first: most keys are
      // rejected without touching their characters.
      if (key == "path")
        path = value;
      else if (key == "path_hex")
        path_hex = value;
      else if (key == "member")
        member = value;
      else if (key == "member_hex")
        member_hex = value;
      else if (key == "dataset_id")
        dataset_id = value;
      else if (key == "sha256")
        sha256 = value;
      else if (key == "match")
        match = value;
      else if (key == "status")
        status = value;
      else if (key == "assurance")
        assurance = value;
      else if (key == "reason")
        reason = value;
    });
  }
};

std::string ToString(std::string_view text) { return std::string(text); }

template <typename View>
absl::StatusOr<CheckedItems> CheckItems(View predicate, const AttestationOrigin& origin) {
  const std::string where =
      absl::StrCat("attestation ", origin.log_index, " (order ", origin.order_id, ")");
  if (!predicate.is_object())
    return absl::InvalidArgumentError(where + ": predicate is not an object");
  if (const View order = predicate["order_id"];
      order.is_string() && order.string() != origin.order_id) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": predicate order_id \"",
                                                   ToString(order.string()),
                                                   "\" is not the attestation's order"));
  }
  const View items = predicate["items"];
  if (!items.is_array()) {
    return absl::InvalidArgumentError(where + ": predicate has no \"items\" array");
  }
  absl::StatusOr<AttestationPart> part = PartOf(predicate);
  if (!part.ok())
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", part.status().message()));

  CheckedItems checked;
  checked.part = *part;
  checked.run_id = ToString(predicate["run_id"].string());
  checked.copies.reserve(items.size());
  // An attestation whose scan after the wipe could not look everywhere
  // proves no absence there; older attestations without the field have none.
  if (const View errors = predicate["post_wipe_scan"]["errors"]; errors.is_array()) {
    checked.unexamined = errors.size();
  }
  absl::Status status = absl::OkStatus();
  size_t i = 0;
  items.ForEachElement([&](View item) {
    if (!status.ok()) return;
    const size_t index = i++;
    const auto error = [&](absl::string_view field, absl::string_view message) {
      status = absl::InvalidArgumentError(
          absl::StrCat(where, ": items[", index, "]", field, ": ", message));
    };
    if (!item.is_object()) return error("", "not an object");
    const ItemFields<View> fields(item);
    AttestedCopy& entry = checked.copies.emplace_back();
    entry.dataset_id = ToString(fields.dataset_id.string());
    if (entry.dataset_id.empty()) return error(".dataset_id", "missing or empty");
    entry.sha256_hex = ToString(fields.sha256.string());
    if (!entry.sha256_hex.empty()) {
      entry.sha256.emplace();
      if (!DecodeSha256(entry.sha256_hex, &*entry.sha256)) {
        return error(".sha256", "not 64 lowercase hex digits");
      }
    }
    const std::optional<CopyStatus> copy_status =
        ParseCopyStatus(ToString(fields.status.string()));
    if (!copy_status) return error(".status", "missing or unknown");
    entry.status = *copy_status;
    entry.match = ToString(fields.match.string());
    if (!IsMatchKind(entry.match)) return error(".match", "missing or unknown");
    if (fields.assurance.present() && !fields.assurance.is_null()) {
      entry.assurance = ParseAgentAssurance(ToString(fields.assurance.string()));
      if (!entry.assurance) return error(".assurance", "unknown");
    }
    // Exact names where the attestation has them (names that are not UTF-8
    // are lossy in "path" and exact in "path_hex").
    entry.exact_path = ToString(fields.path_hex.is_string() ? fields.path_hex.string()
                                                            : fields.path.string());
    const View members = fields.member_hex.present() ? fields.member_hex : fields.member;
    members.ForEachElement(
        [&](View member) { entry.exact_member.push_back(ToString(member.string())); });
    entry.path = ToString(fields.path.string());
    fields.member.ForEachElement([&](View name) {
      entry.member.push_back(name.is_string() ? ToString(name.string()) : name.Dump());
    });
    entry.reason = ToString(fields.reason.string());
  });
  if (!status.ok()) return status;
  return checked;
}

}  // namespace

Reconciler::Reconciler(ReconcileContext context) : context_(std::move(context)) {}

void Reconciler::ReserveFiles(size_t count) {
  files_.reserve(count);
  file_aggregate_.reserve(count);
  aggregates_.reserve(count);
  aggregate_index_.reserve(count);
}

uint32_t Reconciler::InternDataset(absl::string_view vendor_id, absl::string_view dataset_id) {
  if (context_.rules == ReconcileRules::kFormat1) vendor_id = {};
  dataset_key_.assign(vendor_id.data(), vendor_id.size());
  dataset_key_.push_back('\0');
  dataset_key_.append(dataset_id.data(), dataset_id.size());
  // Rows and items come grouped by dataset, mostly.
  if (last_dataset_ < datasets_.size() && datasets_[last_dataset_] == dataset_key_) {
    return last_dataset_;
  }
  const auto it = dataset_index_.find(dataset_key_);
  if (it != dataset_index_.end()) return last_dataset_ = it->second;
  const auto index = static_cast<uint32_t>(datasets_.size());
  datasets_.push_back(dataset_key_);
  dataset_index_.emplace(datasets_.back(), index);
  return last_dataset_ = index;
}

uint32_t Reconciler::AggregateFor(const ContentKey& key) {
  const auto [it, inserted] =
      aggregate_index_.try_emplace(key, static_cast<uint32_t>(aggregates_.size()));
  if (inserted) aggregates_.emplace_back();
  return it->second;
}

absl::Status Reconciler::AddExpectedFile(ExpectedFile file) {
  ContentKey key;
  if (file.dataset_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("inventory file ", file.path, ": empty dataset_id"));
  }
  if (!DecodeSha256(file.sha256, &key.sha256)) {
    return absl::InvalidArgumentError(absl::StrCat("inventory file ", file.path,
                                                   ": sha256 is not 64 lowercase hex digits: \"",
                                                   file.sha256, "\""));
  }
  key.dataset = InternDataset(file.vendor_id, file.dataset_id);
  if (dataset_in_inventory_.size() <= key.dataset) dataset_in_inventory_.resize(key.dataset + 1);
  dataset_in_inventory_[key.dataset] = true;
  const uint32_t aggregate = AggregateFor(key);
  aggregates_[aggregate].expected = true;
  FileResult& result = files_.emplace_back();
  result.dataset_id = std::move(file.dataset_id);
  result.sha256 = std::move(file.sha256);
  result.path = std::move(file.path);
  file_aggregate_.push_back(aggregate);
  return absl::OkStatus();
}

absl::StatusOr<CheckedItems> CheckAttestedItems(const AcceptedAttestation& attestation) {
  return CheckItems(NlohmannView(&attestation.predicate), {.order_id = attestation.order_id,
                                                           .agent_id = attestation.agent_id,
                                                           .host_id = attestation.host_id,
                                                           .vendor_id = attestation.vendor_id,
                                                           .log_index = attestation.log_index});
}

absl::StatusOr<CheckedItems> CheckAttestedItems(const AttestationOrigin& origin,
                                                const SimdView& predicate) {
  return CheckItems(predicate, origin);
}

absl::Status Reconciler::AddAttestation(const AcceptedAttestation& attestation) {
  OFFBOARD_ASSIGN_OR_RETURN(CheckedItems items, CheckAttestedItems(attestation));
  AddCheckedAttestation({.order_id = attestation.order_id,
                         .agent_id = attestation.agent_id,
                         .host_id = attestation.host_id,
                         .vendor_id = attestation.vendor_id,
                         .log_index = attestation.log_index},
                        std::move(items));
  return absl::OkStatus();
}

void Reconciler::AddCheckedAttestation(const AttestationOrigin& origin, CheckedItems items) {
  ++accepted_attestations_;
  accepted_runs_.insert(absl::StrCat(origin.order_id, absl::string_view("\0", 1), items.run_id));
  answered_orders_.Add(origin.order_id, items.run_id, items.part);
  unexamined_after_wipe_ += items.unexamined;
  locations_seen_.reserve(locations_seen_.size() + items.copies.size());
  std::string location;  // reused: host, path, members, content of one item
  for (AttestedCopy& entry : items.copies) {
    const uint32_t dataset = InternDataset(origin.vendor_id, entry.dataset_id);
    const uint32_t aggregate = entry.sha256
                                   ? AggregateFor({.dataset = dataset, .sha256 = *entry.sha256})
                                   : kNoAggregate;
    location.assign(origin.host_id);
    location.push_back('\0');
    location.append(entry.exact_path);
    for (const std::string& member : entry.exact_member) {
      location.push_back('\0');
      location.append(member);
    }
    location.push_back('\1');
    location.append(reinterpret_cast<const char*>(&dataset), sizeof(dataset));
    if (entry.sha256) {
      location.append(reinterpret_cast<const char*>(entry.sha256->data()), entry.sha256->size());
    }
    const bool first_report = locations_seen_.insert(absl::HashOf(location)).second;

    if (aggregate != kNoAggregate) {
      Aggregate& content = aggregates_[aggregate];
      if (first_report) ++content.copies;
      content.statuses |= static_cast<uint8_t>(1u << static_cast<int>(entry.status));
      if (entry.status == CopyStatus::kWiped) {
        // A wipe that claims no assurance is trusted with the least.
        const auto level = static_cast<int8_t>(entry.assurance.value_or(Assurance::kLogicalOnly));
        content.weakest_wiped = std::max(content.weakest_wiped, level);
      }
      if (content.expected) continue;
    }
    if (!first_report) continue;
    UnexpectedCopy copy;
    copy.host_id = origin.host_id;
    copy.order_id = origin.order_id;
    copy.path = std::move(entry.path);
    copy.member = std::move(entry.member);
    copy.dataset_id = std::move(entry.dataset_id);
    copy.sha256 = std::move(entry.sha256_hex);
    copy.match = std::move(entry.match);
    copy.status = entry.status;
    copy.assurance = entry.assurance;
    copy.reason = std::move(entry.reason);
    unexpected_.emplace_back(aggregate, std::move(copy));
  }
}

absl::Status Reconciler::AddSelfAttestation(const SelfAttestation& statement) {
  const std::string where = absl::StrCat("self-attestation by ", statement.officer_key_id);
  const Json& predicate = statement.predicate;
  const auto items = predicate.is_object() ? predicate.find("items") : predicate.end();
  if (!predicate.is_object() || items == predicate.end() || !items->is_array()) {
    return absl::InvalidArgumentError(where + ": predicate has no \"items\" array");
  }
  struct Covered {
    absl::string_view dataset_id;
    const std::string* sha256;  // nullptr: the whole dataset
  };
  std::vector<Covered> covered;
  for (size_t i = 0; i < items->size(); ++i) {
    const Json& item = (*items)[i];
    const auto error = [&](absl::string_view field, absl::string_view message) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": items[", i, "]", field, ": ", message));
    };
    if (!item.is_object()) return error("", "not an object");
    const std::string* dataset = StringField(item, "dataset_id");
    if (dataset == nullptr || dataset->empty()) return error(".dataset_id", "missing or empty");
    Covered entry{.dataset_id = *dataset, .sha256 = nullptr};
    if (const auto sha256 = item.find("sha256"); sha256 != item.end() && !sha256->is_null()) {
      std::array<uint8_t, 32> digest;
      if (!sha256->is_string() || !DecodeSha256(sha256->get_ref<const std::string&>(), &digest)) {
        return error(".sha256", "not 64 lowercase hex digits");
      }
      entry.sha256 = &sha256->get_ref<const std::string&>();
    }
    covered.push_back(entry);
  }
  ++self_attestations_;
  for (const Covered& entry : covered) {
    if (entry.sha256 != nullptr) {
      self_attested_contents_.insert(ContentName(entry.dataset_id, *entry.sha256));
    } else {
      self_attested_datasets_.emplace(entry.dataset_id);
    }
  }
  return absl::OkStatus();
}

absl::flat_hash_set<std::string> Reconciler::SharedDatasets() const {
  absl::flat_hash_map<std::string_view, std::string_view> vendor_of;  // dataset -> a vendor
  absl::flat_hash_set<std::string> shared;
  for (size_t i = 0; i < dataset_in_inventory_.size(); ++i) {
    if (!dataset_in_inventory_[i]) continue;
    const std::string_view key = datasets_[i];
    const size_t nul = key.find('\0');
    const std::string_view vendor = key.substr(0, nul);
    const std::string_view dataset = key.substr(nul + 1);
    const auto [it, inserted] = vendor_of.emplace(dataset, vendor);
    if (!inserted && it->second != vendor) shared.emplace(dataset);
  }
  return shared;
}

Reconciliation Reconciler::Finish() && {
  Reconciliation result;
  result.contract_id = std::move(context_.contract_id);
  result.accepted_attestations = accepted_attestations_;
  result.accepted_runs = accepted_runs_.size();
  result.refused_attestations = context_.refused_attestations;
  result.self_attestations = self_attestations_;
  result.unexamined_after_wipe = unexamined_after_wipe_;
  result.hosts_without_order = std::move(hosts_without_order_);

  const bool any_self_attested =
      !self_attested_datasets_.empty() || !self_attested_contents_.empty();
  const absl::flat_hash_set<std::string> shared =
      any_self_attested ? SharedDatasets() : absl::flat_hash_set<std::string>();
  std::string content_key;  // reused: one key per file, no allocation each
  const auto self_attested = [&](const FileResult& file) {
    if (!any_self_attested || shared.contains(file.dataset_id)) return false;
    if (self_attested_datasets_.contains(file.dataset_id)) return true;
    content_key.assign(file.dataset_id);
    content_key.push_back('\0');
    content_key.append(file.sha256);
    return self_attested_contents_.contains(content_key);
  };
  const auto has = [](const Aggregate& content, CopyStatus status) {
    return (content.statuses & (1u << static_cast<int>(status))) != 0;
  };
  for (size_t i = 0; i < files_.size(); ++i) {
    FileResult& file = files_[i];
    const Aggregate& content = aggregates_[file_aggregate_[i]];
    file.copies = content.copies;
    if (has(content, CopyStatus::kResidual)) {
      file.state = FileState::kResidual;
    } else if (has(content, CopyStatus::kFailed)) {
      file.state = FileState::kFailed;
    } else if (has(content, CopyStatus::kNeedsReview) || has(content, CopyStatus::kSkipped)) {
      file.state = FileState::kFoundNotWiped;
    } else if (has(content, CopyStatus::kWiped)) {
      file.state = FileState::kWiped;
      file.assurance = static_cast<Assurance>(content.weakest_wiped);
    } else if (self_attested(file)) {
      file.state = FileState::kSelfAttested;
      file.assurance = Assurance::kSelfAttested;
    } else {
      file.state = FileState::kNotFound;
    }
  }
  result.files = std::move(files_);

  for (auto& [aggregate, copy] : unexpected_) {
    // Added before the inventory file with its content: a copy after all.
    if (aggregate != kNoAggregate && aggregates_[aggregate].expected) continue;
    result.unexpected.push_back(std::move(copy));
  }

  const auto answered = [&](const HostOrder& order) {
    return order.answered || answered_orders_.Answered(order.order_id);
  };
  // Each host's answered orders: when issued, to which agent.
  std::map<HostRef, std::vector<const HostOrder*>> answered_of_host;
  for (const HostOrder& order : context_.orders) {
    if (answered(order)) answered_of_host[{order.vendor_id, order.host_id}].push_back(&order);
  }
  // Superseded: the host answered an order issued later, and this one has
  // expired or went to another agent (the host enrolled again since: only
  // the new agent is asked).
  const auto superseded = [&](const HostOrder& order, bool expired) {
    if (context_.rules == ReconcileRules::kFormat1) return false;
    const auto host = answered_of_host.find({order.vendor_id, order.host_id});
    if (host == answered_of_host.end()) return false;
    return std::any_of(host->second.begin(), host->second.end(), [&](const HostOrder* later) {
      return later->issued_at > order.issued_at && (expired || later->agent_id != order.agent_id);
    });
  };
  for (const HostOrder& order : context_.orders) {
    if (answered(order)) continue;
    const bool expired = context_.now > order.expires_at;
    if (superseded(order, expired)) {
      result.superseded_orders.push_back(order.order_id);
      continue;
    }
    result.unanswered_orders.push_back(order.order_id);
    if (expired) result.overdue_orders.push_back(order.order_id);
  }
  DecideVerdict(result);
  return result;
}

absl::StatusOr<Reconciliation> Reconcile(ReconcileInput input) {
  Reconciler reconciler(std::move(input.context));
  reconciler.ReserveFiles(input.inventory.size());
  for (ExpectedFile& file : input.inventory) {
    OFFBOARD_RETURN_IF_ERROR(reconciler.AddExpectedFile(std::move(file)));
  }
  for (const AcceptedAttestation& attestation : input.attestations) {
    OFFBOARD_RETURN_IF_ERROR(reconciler.AddAttestation(attestation));
  }
  for (const SelfAttestation& statement : input.self_attestations) {
    OFFBOARD_RETURN_IF_ERROR(reconciler.AddSelfAttestation(statement));
  }
  return std::move(reconciler).Finish();
}

}  // namespace offboard::common
