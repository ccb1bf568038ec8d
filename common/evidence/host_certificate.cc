// HostCertificateBuilder (evidence_report.h): folds the deletion predicates
// that one agent signed into its host's certificate of sanitization. The
// predicates come from agents, so every fact is read defensively: a missing
// key or a value of the wrong type leaves the fact empty and never throws.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/evidence/evidence_report.h"

namespace offboard::common {
namespace {

using Json = nlohmann::json;

// Every lookup tolerates a missing key or a value of the wrong type.
const Json& Member(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string Text(const Json& object, const char* key) {
  const Json& value = Member(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

void AddDistinct(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

std::string YesNo(const Json& flag) {
  return flag.is_boolean() ? (flag.get<bool>() ? "yes" : "no") : "unknown";
}

// "ext4 on /dev/vda1 (rotational: no, shared extents: no)".
std::string StorageDescription(const Json& storage) {
  const std::string fs_type = Text(storage, "fs_type");
  std::string text = fs_type.empty() ? "unknown filesystem" : fs_type;
  if (const std::string device = Text(storage, "device"); !device.empty()) {
    absl::StrAppend(&text, " on ", device);
  }
  absl::StrAppend(&text, " (rotational: ", YesNo(Member(storage, "rotational")),
                  ", shared extents: ", YesNo(Member(storage, "shared_extents")));
  if (YesNo(Member(storage, "data_journal")) == "yes")
    absl::StrAppend(&text, ", data journal: yes");
  return absl::StrCat(text, ")");
}

// "overwrite: zeros, ones, random"; the method alone when it made no passes.
std::string MethodDescription(const Json& item) {
  std::string method = Text(item, "method");
  if (method.empty()) method = "unstated";
  std::vector<std::string> patterns;
  const Json& passes = Member(item, "passes");
  if (passes.is_array()) {
    for (const Json& pass : passes) {
      if (std::string pattern = Text(pass, "pattern"); !pattern.empty()) {
        patterns.push_back(std::move(pattern));
      }
    }
  }
  return patterns.empty() ? method : absl::StrCat(method, ": ", absl::StrJoin(patterns, ", "));
}

}  // namespace

EvidenceHost EvidenceHostOf(const EnrollmentRecord& record) {
  return {.agent_id = record.agent_id,
          .vendor_id = record.vendor_id,
          .host_id = record.host_id,
          .hostname = record.hostname,
          .agent_key_id = record.attestation_key_id};
}

void HostCertificateBuilder::AddHost(const EvidenceHost& host) {
  if (!by_agent_.emplace(host.agent_id, certificates_.size()).second) return;
  certificates_.emplace_back().host = host;
  pending_.emplace_back();
}

absl::Status HostCertificateBuilder::AddAttestation(const std::string& agent_id, uint64_t log_index,
                                                    const Json& predicate) {
  const auto found = by_agent_.find(agent_id);
  if (found == by_agent_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attestation at log index ", log_index, ": unknown agent '", agent_id, "'"));
  }
  const Json& items = Member(predicate, "items");
  const Json kNoItems = Json::array();
  const Json& item_list = items.is_array() ? items : kNoItems;
  // Refuse before folding anything, so that a refused attestation leaves the
  // certificate as it was.
  for (size_t i = 0; i < item_list.size(); ++i) {
    if (!item_list[i].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("attestation at log index ", log_index,
                                                     ": items[", i, "] is not an object"));
    }
  }
  HostCertificate& certificate = certificates_[found->second];
  Pending& pending = pending_[found->second];

  certificate.log_indexes.push_back(log_index);
  if (std::string order_id = Text(predicate, "order_id"); !order_id.empty()) {
    pending.orders.emplace_back(log_index, std::move(order_id));
  }
  const Json& host = Member(predicate, "host");
  if (certificate.host.hostname.empty()) certificate.host.hostname = Text(host, "hostname");
  if (certificate.machine_id.empty()) certificate.machine_id = Text(host, "machine_id");
  if (certificate.kernel.empty()) certificate.kernel = Text(host, "kernel");
  if (std::string policy = Text(Member(predicate, "policy"), "name"); !policy.empty()) {
    AddDistinct(certificate.policy_names, std::move(policy));
  }
  const std::string version = Text(Member(predicate, "agent"), "version");
  AddDistinct(pending.tools, version.empty() ? "offboard-agent (version not stated)"
                                             : absl::StrCat("offboard-agent ", version));
  if (const std::string started = Text(predicate, "started_at"); !started.empty()) {
    if (certificate.started_at.empty() || started < certificate.started_at) {
      certificate.started_at = started;
    }
  }
  if (const std::string finished = Text(predicate, "finished_at");
      finished > certificate.finished_at) {
    certificate.finished_at = finished;
  }

  for (const Json& item : item_list) {
    if (Text(item, "status") != "wiped") {
      ++certificate.items_not_wiped;
      continue;
    }
    ++certificate.items_wiped;
    // A wiped item that claims no level (or one we do not know) is held to
    // the weakest an agent can claim: its name and logical content are gone.
    const std::optional<Assurance> level = ParseAgentAssurance(Text(item, "assurance"));
    certificate.assurance = Weaker(certificate.assurance, level.value_or(Assurance::kLogicalOnly));
    AddDistinct(pending.methods, MethodDescription(item));
    const Json& passes = Member(item, "passes");
    if (passes.is_array()) {
      for (const Json& pass : passes) {
        const Json& verified = Member(pass, "verified");
        std::string how = Text(pass, "verify_method");
        if (verified.is_boolean() && verified.get<bool>() && !how.empty()) {
          AddDistinct(pending.verifications, std::move(how));
        }
      }
    }
    if (const Json& storage = Member(item, "storage"); storage.is_object()) {
      AddDistinct(certificate.storage, StorageDescription(storage));
    }
  }
  return absl::OkStatus();
}

std::vector<HostCertificate> HostCertificateBuilder::Finish() && {
  for (size_t i = 0; i < certificates_.size(); ++i) {
    HostCertificate& certificate = certificates_[i];
    Pending& pending = pending_[i];
    std::stable_sort(pending.orders.begin(), pending.orders.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& order : pending.orders) AddDistinct(certificate.order_ids, std::move(order.second));
    std::sort(certificate.log_indexes.begin(), certificate.log_indexes.end());
    certificate.method = absl::StrJoin(pending.methods, "; ");
    certificate.tool = absl::StrJoin(pending.tools, "; ");
    certificate.verification =
        pending.verifications.empty() ? "none" : absl::StrJoin(pending.verifications, "; ");
    if (!certificate.assurance) {
      certificate.method_type = "none (nothing wiped)";
    } else if (*certificate.assurance <= Assurance::kOverwriteFlash) {
      certificate.method_type = "Clear";
    } else {
      certificate.method_type = "Clear (logical deletion only)";
    }
  }
  pending_.clear();
  by_agent_.clear();
  return std::move(certificates_);
}

}  // namespace offboard::common
