#include "common/evidence/evidence_package.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

absl::StatusOr<Json> ParseObjectOrArray(absl::string_view text, absl::string_view what) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, ": not JSON"));
  return json;
}

// Typed reads of one record's fields; errors name the record and the field.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string where) : object_(object), where_(std::move(where)) {}

  absl::Status CheckObject() const {
    if (object_.is_object()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(where_, ": not a JSON object"));
  }
  absl::Status String(const char* key, std::string& out) const {
    const auto it = object_.find(key);
    if (it == object_.end() || !it->is_string()) return Missing(key, "a string");
    out = it->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Int(const char* key, int64_t& out) const {
    const auto it = object_.find(key);
    if (it == object_.end() || !it->is_number_integer()) return Missing(key, "an integer");
    out = it->get<int64_t>();
    return absl::OkStatus();
  }
  absl::Status Unsigned(const char* key, uint64_t& out) const {
    const auto it = object_.find(key);
    if (it == object_.end() || !it->is_number_unsigned()) {
      return Missing(key, "a non-negative integer");
    }
    out = it->get<uint64_t>();
    return absl::OkStatus();
  }
  absl::Status Bool(const char* key, bool& out) const {
    const auto it = object_.find(key);
    if (it == object_.end() || !it->is_boolean()) return Missing(key, "a boolean");
    out = it->get<bool>();
    return absl::OkStatus();
  }
  absl::Status Strings(const char* key, std::vector<std::string>& out) const {
    const auto it = object_.find(key);
    if (it == object_.end() || !it->is_array()) return Missing(key, "an array of strings");
    out.clear();
    for (const Json& element : *it) {
      if (!element.is_string()) return Missing(key, "an array of strings");
      out.push_back(element.get<std::string>());
    }
    return absl::OkStatus();
  }
  const Json* Array(const char* key) const {
    const auto it = object_.find(key);
    return it != object_.end() && it->is_array() ? &*it : nullptr;
  }
  absl::Status Missing(const char* key, const char* type) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": \"", key, "\" is not ", type));
  }

 private:
  const Json& object_;
  std::string where_;
};

// Parses a JSON array of records with `read` for each element.
template <typename Record, typename Read>
absl::StatusOr<std::vector<Record>> RecordsFromJson(absl::string_view text, absl::string_view what,
                                                    Read read) {
  OFFBOARD_ASSIGN_OR_RETURN(Json json, ParseObjectOrArray(text, what));
  if (!json.is_array()) return absl::InvalidArgumentError(absl::StrCat(what, ": not a JSON array"));
  std::vector<Record> records;
  records.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    const FieldReader fields(json[i], absl::StrCat(what, "[", i, "]"));
    OFFBOARD_RETURN_IF_ERROR(fields.CheckObject());
    OFFBOARD_RETURN_IF_ERROR(read(fields, records.emplace_back()));
  }
  return records;
}

}  // namespace

int EvidenceSection(absl::string_view name) {
  static constexpr std::array<absl::string_view, 15> kOrder = {
      kManifestMember,         kControllerKeyMember,      kCaCertificateMember,
      kEnrollmentsMember,      kOfficersMember,           kRefusalsMember,
      kOrdersPrefix,           kTreeHeadsMember,          kReceiptsPrefix,
      kInventoryMember,        kSelfAttestationsPrefix,   kAttestationsPrefix,
      kReconciliationJsonMember, kReconciliationCsvMember, kReportMember};
  for (size_t i = 0; i < kOrder.size(); ++i) {
    const absl::string_view entry = kOrder[i];
    if (entry.back() == '/' ? absl::StartsWith(name, entry) && name.size() > entry.size()
                            : name == entry) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::string AttestationMemberName(uint64_t log_index) {
  return absl::StrFormat("%s%012u.dsse.json", kAttestationsPrefix, log_index);
}
std::string ReceiptMemberName(uint64_t log_index) {
  return absl::StrFormat("%s%012u.json", kReceiptsPrefix, log_index);
}
std::string OrderMemberName(absl::string_view order_id) {
  return absl::StrCat(kOrdersPrefix, order_id, ".dsse.json");
}
std::string SelfAttestationMemberName(size_t ordinal) {
  return absl::StrFormat("%s%06u.dsse.json", kSelfAttestationsPrefix, ordinal);
}

OrderedJson ManifestToJson(const Manifest& manifest) {
  OrderedJson members = OrderedJson::array();
  for (const ManifestEntry& entry : manifest.members) {
    members.push_back({{"name", entry.name}, {"size", entry.size}, {"sha256", entry.sha256}});
  }
  return {{"format", manifest.format},
          {"contract_id", manifest.contract_id},
          {"vendor_id", manifest.vendor_id},
          {"exported_at", manifest.exported_at},
          {"organization", manifest.organization},
          {"officer", manifest.officer},
          {"controller_key_id", manifest.controller_key_id},
          {"controller_version", manifest.controller_version},
          {"members", std::move(members)}};
}

absl::StatusOr<Manifest> ManifestFromJson(absl::string_view text) {
  OFFBOARD_ASSIGN_OR_RETURN(Json json, ParseObjectOrArray(text, "manifest"));
  const FieldReader fields(json, "manifest");
  OFFBOARD_RETURN_IF_ERROR(fields.CheckObject());
  Manifest manifest;
  OFFBOARD_RETURN_IF_ERROR(fields.String("format", manifest.format));
  if (manifest.format != kEvidenceFormat && manifest.format != kEvidenceFormat1) {
    return absl::InvalidArgumentError(absl::StrCat("manifest: format \"", manifest.format,
                                                   "\" is neither ", kEvidenceFormat, " nor ",
                                                   kEvidenceFormat1));
  }
  OFFBOARD_RETURN_IF_ERROR(fields.String("contract_id", manifest.contract_id));
  OFFBOARD_RETURN_IF_ERROR(fields.String("vendor_id", manifest.vendor_id));
  OFFBOARD_RETURN_IF_ERROR(fields.Int("exported_at", manifest.exported_at));
  OFFBOARD_RETURN_IF_ERROR(fields.String("organization", manifest.organization));
  OFFBOARD_RETURN_IF_ERROR(fields.String("officer", manifest.officer));
  OFFBOARD_RETURN_IF_ERROR(fields.String("controller_key_id", manifest.controller_key_id));
  OFFBOARD_RETURN_IF_ERROR(fields.String("controller_version", manifest.controller_version));
  const Json* members = fields.Array("members");
  if (members == nullptr) return fields.Missing("members", "an array");
  for (size_t i = 0; i < members->size(); ++i) {
    const FieldReader member((*members)[i], absl::StrCat("manifest: members[", i, "]"));
    OFFBOARD_RETURN_IF_ERROR(member.CheckObject());
    ManifestEntry& entry = manifest.members.emplace_back();
    OFFBOARD_RETURN_IF_ERROR(member.String("name", entry.name));
    OFFBOARD_RETURN_IF_ERROR(member.Unsigned("size", entry.size));
    OFFBOARD_RETURN_IF_ERROR(member.String("sha256", entry.sha256));
  }
  return manifest;
}

OrderedJson ToJson(const std::vector<EnrollmentRecord>& records) {
  OrderedJson out = OrderedJson::array();
  for (const EnrollmentRecord& r : records) {
    out.push_back({{"agent_id", r.agent_id},
                   {"vendor_id", r.vendor_id},
                   {"host_id", r.host_id},
                   {"hostname", r.hostname},
                   {"attestation_key_id", r.attestation_key_id},
                   {"attestation_public_key_pem", r.attestation_public_key_pem},
                   {"client_certificate_pem", r.client_certificate_pem},
                   {"certificate_serial_hex", r.certificate_serial_hex},
                   {"enrolled_at", r.enrolled_at},
                   {"banned", r.banned},
                   {"banned_at", r.banned_at}});
  }
  return out;
}

OrderedJson ToJson(const std::vector<OfficerRecord>& records) {
  OrderedJson out = OrderedJson::array();
  for (const OfficerRecord& r : records) {
    out.push_back({{"key_id", r.key_id},
                   {"vendor_id", r.vendor_id},
                   {"name", r.name},
                   {"public_key_pem", r.public_key_pem}});
  }
  return out;
}

OrderedJson ToJson(const std::vector<RefusalRecord>& records) {
  OrderedJson out = OrderedJson::array();
  for (const RefusalRecord& r : records) {
    out.push_back(
        {{"at", r.at}, {"order_id", r.order_id}, {"agent_id", r.agent_id}, {"reason", r.reason}});
  }
  return out;
}

OrderedJson ToJson(const ReceiptRecord& r) {
  return {{"log_index", r.log_index},       {"order_id", r.order_id},
          {"agent_id", r.agent_id},         {"leaf_hash", r.leaf_hash},
          {"accepted_at", r.accepted_at},   {"tree_size", r.tree_size},
          {"inclusion_proof", r.inclusion_proof}};
}

OrderedJson ToJson(const TreeHeadsRecord& r) {
  OrderedJson consistency = OrderedJson::array();
  for (const ConsistencyRecord& c : r.consistency) {
    consistency.push_back({{"from_size", c.from_size}, {"to_size", c.to_size}, {"proof", c.proof}});
  }
  return {{"heads", r.heads}, {"consistency", std::move(consistency)}};
}

absl::StatusOr<std::vector<EnrollmentRecord>> EnrollmentsFromJson(absl::string_view text) {
  return RecordsFromJson<EnrollmentRecord>(
      text, kEnrollmentsMember, [](const FieldReader& f, EnrollmentRecord& r) -> absl::Status {
        OFFBOARD_RETURN_IF_ERROR(f.String("agent_id", r.agent_id));
        OFFBOARD_RETURN_IF_ERROR(f.String("vendor_id", r.vendor_id));
        OFFBOARD_RETURN_IF_ERROR(f.String("host_id", r.host_id));
        OFFBOARD_RETURN_IF_ERROR(f.String("hostname", r.hostname));
        OFFBOARD_RETURN_IF_ERROR(f.String("attestation_key_id", r.attestation_key_id));
        OFFBOARD_RETURN_IF_ERROR(
            f.String("attestation_public_key_pem", r.attestation_public_key_pem));
        OFFBOARD_RETURN_IF_ERROR(f.String("client_certificate_pem", r.client_certificate_pem));
        OFFBOARD_RETURN_IF_ERROR(f.String("certificate_serial_hex", r.certificate_serial_hex));
        OFFBOARD_RETURN_IF_ERROR(f.Int("enrolled_at", r.enrolled_at));
        OFFBOARD_RETURN_IF_ERROR(f.Bool("banned", r.banned));
        return f.Int("banned_at", r.banned_at);
      });
}

absl::StatusOr<std::vector<OfficerRecord>> OfficersFromJson(absl::string_view text) {
  return RecordsFromJson<OfficerRecord>(
      text, kOfficersMember, [](const FieldReader& f, OfficerRecord& r) -> absl::Status {
        OFFBOARD_RETURN_IF_ERROR(f.String("key_id", r.key_id));
        OFFBOARD_RETURN_IF_ERROR(f.String("vendor_id", r.vendor_id));
        OFFBOARD_RETURN_IF_ERROR(f.String("name", r.name));
        return f.String("public_key_pem", r.public_key_pem);
      });
}

absl::StatusOr<std::vector<RefusalRecord>> RefusalsFromJson(absl::string_view text) {
  return RecordsFromJson<RefusalRecord>(
      text, kRefusalsMember, [](const FieldReader& f, RefusalRecord& r) -> absl::Status {
        OFFBOARD_RETURN_IF_ERROR(f.Int("at", r.at));
        OFFBOARD_RETURN_IF_ERROR(f.String("order_id", r.order_id));
        OFFBOARD_RETURN_IF_ERROR(f.String("agent_id", r.agent_id));
        return f.String("reason", r.reason);
      });
}

absl::StatusOr<ReceiptRecord> ReceiptFromJson(absl::string_view text) {
  OFFBOARD_ASSIGN_OR_RETURN(Json json, ParseObjectOrArray(text, "receipt"));
  const FieldReader f(json, "receipt");
  OFFBOARD_RETURN_IF_ERROR(f.CheckObject());
  ReceiptRecord r;
  OFFBOARD_RETURN_IF_ERROR(f.Unsigned("log_index", r.log_index));
  OFFBOARD_RETURN_IF_ERROR(f.String("order_id", r.order_id));
  OFFBOARD_RETURN_IF_ERROR(f.String("agent_id", r.agent_id));
  OFFBOARD_RETURN_IF_ERROR(f.String("leaf_hash", r.leaf_hash));
  OFFBOARD_RETURN_IF_ERROR(f.Int("accepted_at", r.accepted_at));
  OFFBOARD_RETURN_IF_ERROR(f.Unsigned("tree_size", r.tree_size));
  OFFBOARD_RETURN_IF_ERROR(f.Strings("inclusion_proof", r.inclusion_proof));
  return r;
}

absl::StatusOr<TreeHeadsRecord> TreeHeadsFromJson(absl::string_view text) {
  OFFBOARD_ASSIGN_OR_RETURN(Json json, ParseObjectOrArray(text, kTreeHeadsMember));
  const FieldReader f(json, std::string(kTreeHeadsMember));
  OFFBOARD_RETURN_IF_ERROR(f.CheckObject());
  TreeHeadsRecord r;
  OFFBOARD_RETURN_IF_ERROR(f.Strings("heads", r.heads));
  const Json* consistency = f.Array("consistency");
  if (consistency == nullptr) return f.Missing("consistency", "an array");
  for (size_t i = 0; i < consistency->size(); ++i) {
    const FieldReader c((*consistency)[i], absl::StrCat(kTreeHeadsMember, ": consistency[", i, "]"));
    OFFBOARD_RETURN_IF_ERROR(c.CheckObject());
    ConsistencyRecord& record = r.consistency.emplace_back();
    OFFBOARD_RETURN_IF_ERROR(c.Unsigned("from_size", record.from_size));
    OFFBOARD_RETURN_IF_ERROR(c.Unsigned("to_size", record.to_size));
    OFFBOARD_RETURN_IF_ERROR(c.Strings("proof", record.proof));
  }
  return r;
}

std::string DumpRecord(const OrderedJson& json) {
  std::string text = json.dump(-1, ' ', false, Json::error_handler_t::replace);
  text.push_back('\n');
  return text;
}

}  // namespace offboard::common
