// HostCertificateBuilder (evidence_report.h): folds the deletion predicates
// that one agent signed into its host's certificate of sanitization. The
// predicates come from agents, so every fact is read defensively: a missing
// key or a value of the wrong type leaves the fact empty and never throws.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/evidence/evidence_report.h"
#include "common/json/json_view.h"

namespace offboard::common {
namespace {

using Json = nlohmann::json;

std::string ToString(std::string_view text) { return std::string(text); }

void AddDistinct(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

// Every lookup below tolerates a missing key or a value of the wrong type.
template <typename View>
std::string YesNo(View flag) {
  return flag.is_boolean() ? (flag.boolean() ? "yes" : "no") : "unknown";
}

// "ext4 on /dev/vda1 (rotational: no, shared extents: no)".
template <typename View>
std::string StorageDescription(View storage) {
  const std::string fs_type = ToString(storage["fs_type"].string());
  std::string text = fs_type.empty() ? "unknown filesystem" : fs_type;
  if (const std::string_view device = storage["device"].string(); !device.empty()) {
    absl::StrAppend(&text, " on ", ToString(device));
  }
  absl::StrAppend(&text, " (rotational: ", YesNo(storage["rotational"]),
                  ", shared extents: ", YesNo(storage["shared_extents"]));
  if (YesNo(storage["data_journal"]) == "yes") absl::StrAppend(&text, ", data journal: yes");
  return absl::StrCat(text, ")");
}

// "overwrite: zeros, ones, random"; the method alone when it made no passes.
template <typename View>
std::string MethodDescription(View item) {
  std::string method = ToString(item["method"].string());
  if (method.empty()) method = "unstated";
  std::vector<std::string> patterns;
  item["passes"].ForEachElement([&](View pass) {
    if (const std::string_view pattern = pass["pattern"].string(); !pattern.empty()) {
      patterns.push_back(ToString(pattern));
    }
  });
  return patterns.empty() ? method : absl::StrCat(method, ": ", absl::StrJoin(patterns, ", "));
}

template <typename View>
absl::StatusOr<CertificateFacts> FactsOf(uint64_t log_index, View predicate) {
  const View items = predicate["items"];
  size_t index = 0;
  bool all_objects = true;
  items.ForEachElement([&](View item) {
    if (all_objects && !item.is_object()) all_objects = false;
    if (all_objects) ++index;
  });
  if (!all_objects) {
    return absl::InvalidArgumentError(absl::StrCat("attestation at log index ", log_index,
                                                   ": items[", index, "] is not an object"));
  }
  absl::StatusOr<AttestationPart> part = PartOf(predicate);
  if (!part.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attestation at log index ", log_index, ": ", part.status().message()));
  }
  CertificateFacts facts;
  facts.log_index = log_index;
  facts.order_id = ToString(predicate["order_id"].string());
  facts.run_id = ToString(predicate["run_id"].string());
  facts.part = *part;
  const View host = predicate["host"];
  facts.hostname = ToString(host["hostname"].string());
  facts.machine_id = ToString(host["machine_id"].string());
  facts.kernel = ToString(host["kernel"].string());
  facts.policy_name = ToString(predicate["policy"]["name"].string());
  const std::string_view version = predicate["agent"]["version"].string();
  facts.tool = version.empty() ? "offboard-agent (version not stated)"
                               : absl::StrCat("offboard-agent ", ToString(version));
  facts.started_at = ToString(predicate["started_at"].string());
  facts.finished_at = ToString(predicate["finished_at"].string());
  items.ForEachElement([&](View item) {
    if (item["status"].string() != "wiped") {
      ++facts.items_not_wiped;
      return;
    }
    ++facts.items_wiped;
    // A wiped item that claims no level (or one we do not know) is held to
    // the weakest an agent can claim: its name and logical content are gone.
    const std::optional<Assurance> level = ParseAgentAssurance(ToString(item["assurance"].string()));
    facts.assurance = Weaker(facts.assurance, level.value_or(Assurance::kLogicalOnly));
    AddDistinct(facts.methods, MethodDescription(item));
    item["passes"].ForEachElement([&](View pass) {
      const std::string_view how = pass["verify_method"].string();
      if (pass["verified"].boolean() && !how.empty()) {
        AddDistinct(facts.verifications, ToString(how));
      }
    });
    if (const View storage = item["storage"]; storage.is_object()) {
      AddDistinct(facts.storage, StorageDescription(storage));
    }
  });
  return facts;
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

absl::StatusOr<CertificateFacts> CertificateFactsOf(uint64_t log_index, const Json& predicate) {
  return FactsOf(log_index, NlohmannView(&predicate));
}

absl::StatusOr<CertificateFacts> CertificateFactsOf(uint64_t log_index, const SimdView& predicate) {
  return FactsOf(log_index, predicate);
}

absl::Status HostCertificateBuilder::AddAttestation(const std::string& agent_id, uint64_t log_index,
                                                    const Json& predicate) {
  // Refused before folding anything, so that a refused attestation leaves the
  // certificate as it was.
  absl::StatusOr<CertificateFacts> facts = CertificateFactsOf(log_index, predicate);
  if (!facts.ok()) return facts.status();
  return AddAttestation(agent_id, *std::move(facts));
}

absl::Status HostCertificateBuilder::AddAttestation(const std::string& agent_id,
                                                    CertificateFacts facts) {
  const auto found = by_agent_.find(agent_id);
  if (found == by_agent_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("attestation at log index ", facts.log_index,
                                                   ": unknown agent '", agent_id, "'"));
  }
  HostCertificate& certificate = certificates_[found->second];
  Pending& pending = pending_[found->second];
  certificate.log_indexes.push_back(facts.log_index);
  if (!facts.order_id.empty()) {
    answered_.Add(facts.order_id, facts.run_id, facts.part);
    pending.orders.emplace_back(facts.log_index, std::move(facts.order_id));
  }
  if (certificate.host.hostname.empty()) certificate.host.hostname = std::move(facts.hostname);
  if (certificate.machine_id.empty()) certificate.machine_id = std::move(facts.machine_id);
  if (certificate.kernel.empty()) certificate.kernel = std::move(facts.kernel);
  if (!facts.policy_name.empty()) AddDistinct(certificate.policy_names, std::move(facts.policy_name));
  AddDistinct(pending.tools, std::move(facts.tool));
  if (!facts.started_at.empty() &&
      (certificate.started_at.empty() || facts.started_at < certificate.started_at)) {
    certificate.started_at = std::move(facts.started_at);
  }
  if (facts.finished_at > certificate.finished_at) certificate.finished_at = std::move(facts.finished_at);
  certificate.items_wiped += facts.items_wiped;
  certificate.items_not_wiped += facts.items_not_wiped;
  if (facts.assurance) certificate.assurance = Weaker(certificate.assurance, facts.assurance);
  for (std::string& method : facts.methods) AddDistinct(pending.methods, std::move(method));
  for (std::string& how : facts.verifications) AddDistinct(pending.verifications, std::move(how));
  for (std::string& storage : facts.storage) AddDistinct(certificate.storage, std::move(storage));
  return absl::OkStatus();
}

std::vector<HostCertificate> HostCertificateBuilder::Finish() && {
  for (size_t i = 0; i < certificates_.size(); ++i) {
    HostCertificate& certificate = certificates_[i];
    Pending& pending = pending_[i];
    std::stable_sort(pending.orders.begin(), pending.orders.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& order : pending.orders) {
      // An order with parts still missing is not answered yet.
      if (answered_.Answered(order.second))
        AddDistinct(certificate.order_ids, std::move(order.second));
    }
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
