#include "agent/wipe/wipe_outcome.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace offboard::agent {
namespace {

nlohmann::json Optional(const std::optional<bool>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::optional<bool> OptionalBool(const nlohmann::json& value) {
  if (value.is_boolean()) return value.get<bool>();
  return std::nullopt;
}

constexpr ItemStatus kStatuses[] = {ItemStatus::kWiped, ItemStatus::kFailed,
                                    ItemStatus::kNeedsReview, ItemStatus::kSkipped,
                                    ItemStatus::kResidual};

}  // namespace

const char* ItemStatusName(ItemStatus status) {
  switch (status) {
    case ItemStatus::kWiped:
      return "wiped";
    case ItemStatus::kFailed:
      return "failed";
    case ItemStatus::kNeedsReview:
      return "needs_review";
    case ItemStatus::kSkipped:
      return "skipped";
    case ItemStatus::kResidual:
      return "residual";
  }
  return "failed";
}

TargetOutcome MakeOutcome(ItemStatus status, std::string method, std::string reason) {
  TargetOutcome outcome;
  outcome.status = status;
  outcome.method = std::move(method);
  outcome.reason = std::move(reason);
  return outcome;
}

TargetOutcome WipedOutcome(DestroyOutcome destroyed, std::string method, std::string reason) {
  TargetOutcome outcome = MakeOutcome(ItemStatus::kWiped, std::move(method), std::move(reason));
  outcome.assurance = destroyed.assurance;
  outcome.passes = std::move(destroyed.passes);
  outcome.renames = destroyed.renames;
  outcome.bytes_overwritten = destroyed.bytes_overwritten;
  outcome.link_count = destroyed.link_count;
  outcome.storage = std::move(destroyed.storage);
  if (!destroyed.note.empty()) absl::StrAppend(&outcome.reason, "; ", destroyed.note);
  return outcome;
}

nlohmann::json StorageFactsToJson(const StorageFacts& facts) {
  return {{"fs_type", facts.fs_type},
          {"fs_magic", facts.fs_magic},
          {"device", facts.device},
          {"mount_point", facts.mount_point},
          {"rotational", Optional(facts.rotational)},
          {"discard", Optional(facts.discard)},
          {"mount_options", facts.mount_options},
          {"data_journal", Optional(facts.data_journal)},
          {"shared_extents", facts.shared_extents},
          {"extents_mapped", facts.extents_mapped},
          {"backing_file", facts.backing_file},
          {"backing_limit", facts.backing_limit
                                ? nlohmann::json(common::AssuranceName(*facts.backing_limit))
                                : nlohmann::json(nullptr)},
          {"note", facts.note}};
}

absl::StatusOr<StorageFacts> StorageFactsFromJson(const nlohmann::json& json) {
  try {
    StorageFacts facts;
    facts.fs_type = json.at("fs_type").get<std::string>();
    facts.fs_magic = json.at("fs_magic").get<uint64_t>();
    facts.device = json.at("device").get<std::string>();
    facts.mount_point = json.at("mount_point").get<std::string>();
    facts.rotational = OptionalBool(json.at("rotational"));
    facts.discard = OptionalBool(json.at("discard"));
    facts.mount_options = json.at("mount_options").get<std::string>();
    facts.data_journal = OptionalBool(json.at("data_journal"));
    facts.shared_extents = json.at("shared_extents").get<bool>();
    facts.extents_mapped = json.at("extents_mapped").get<bool>();
    facts.note = json.at("note").get<std::string>();
    // Absent in journals written before loop devices were followed.
    if (json.contains("backing_file")) facts.backing_file = json["backing_file"].get<std::string>();
    if (json.contains("backing_limit") && !json["backing_limit"].is_null()) {
      facts.backing_limit = common::ParseAgentAssurance(json["backing_limit"].get<std::string>());
      if (!facts.backing_limit) {
        return absl::InvalidArgumentError("storage facts: unknown backing_limit");
      }
    }
    return facts;
  } catch (const nlohmann::json::exception& error) {
    return absl::InvalidArgumentError(absl::StrCat("storage facts: ", error.what()));
  }
}

nlohmann::json TargetOutcomeToJson(const TargetOutcome& outcome) {
  nlohmann::json passes = nlohmann::json::array();
  for (const PassRecord& pass : outcome.passes) {
    passes.push_back({{"pattern", pass.pattern},
                      {"verified", pass.verified},
                      {"verify_method", pass.verify_method}});
  }
  nlohmann::json json = {{"status", ItemStatusName(outcome.status)},
                         {"method", outcome.method},
                         {"passes", passes},
                         {"renames", outcome.renames},
                         {"bytes_overwritten", outcome.bytes_overwritten},
                         {"link_count", outcome.link_count},
                         {"reason", outcome.reason}};
  json["assurance"] =
      outcome.assurance ? nlohmann::json(common::AssuranceName(*outcome.assurance)) : nullptr;
  json["storage"] = outcome.storage ? StorageFactsToJson(*outcome.storage) : nullptr;
  return json;
}

absl::StatusOr<TargetOutcome> TargetOutcomeFromJson(const nlohmann::json& json) {
  try {
    TargetOutcome outcome;
    const std::string status = json.at("status").get<std::string>();
    bool known = false;
    for (ItemStatus candidate : kStatuses) {
      if (status == ItemStatusName(candidate)) {
        outcome.status = candidate;
        known = true;
      }
    }
    if (!known) return absl::InvalidArgumentError(absl::StrCat("outcome: status '", status, "'"));
    outcome.method = json.at("method").get<std::string>();
    if (json.at("assurance").is_string()) {
      const std::string level = json["assurance"].get<std::string>();
      outcome.assurance = common::ParseAgentAssurance(level);
      if (!outcome.assurance) {
        return absl::InvalidArgumentError(absl::StrCat("outcome: assurance '", level, "'"));
      }
    }
    for (const nlohmann::json& pass : json.at("passes")) {
      outcome.passes.push_back({.pattern = pass.at("pattern").get<std::string>(),
                                .verified = pass.at("verified").get<bool>(),
                                .verify_method = pass.at("verify_method").get<std::string>()});
    }
    outcome.renames = json.at("renames").get<uint32_t>();
    outcome.bytes_overwritten = json.at("bytes_overwritten").get<uint64_t>();
    outcome.link_count = json.at("link_count").get<uint64_t>();
    outcome.reason = json.at("reason").get<std::string>();
    if (json.at("storage").is_object()) {
      absl::StatusOr<StorageFacts> storage = StorageFactsFromJson(json["storage"]);
      if (!storage.ok()) return storage.status();
      outcome.storage = *std::move(storage);
    }
    return outcome;
  } catch (const nlohmann::json::exception& error) {
    return absl::InvalidArgumentError(absl::StrCat("outcome: ", error.what()));
  }
}

}  // namespace offboard::agent
