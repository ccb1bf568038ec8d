#include "agent/wipe/target_history.h"

#include "common/encoding/hex.h"

namespace offboard::agent {
namespace {

std::optional<std::string> HexField(const nlohmann::json& record, const char* key) {
  if (!record.contains(key) || !record[key].is_string()) return std::nullopt;
  absl::StatusOr<std::vector<uint8_t>> bytes = common::HexDecode(record[key].get<std::string>());
  if (!bytes.ok()) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

}  // namespace

TargetHistory ReadTargetHistory(const std::vector<nlohmann::json>& records) {
  TargetHistory history;
  for (const nlohmann::json& record : records) {
    if (!record.contains("step") || !record["step"].is_string()) continue;
    const std::string step = record["step"].get<std::string>();
    if (step == "probe" && record.contains("storage")) {
      history.storage = record["storage"];
    } else if (step == "pass" && record.contains("k") && record["k"].is_number_unsigned()) {
      // A pass started again (after a crash) makes it and later ones undone.
      const size_t k = record["k"].get<size_t>();
      if (k < history.passes_done.size()) history.passes_done.resize(k);
    } else if (step == "pass_done" && record.contains("k") && record["k"].is_number_unsigned() &&
               record["k"].get<size_t>() == history.passes_done.size()) {
      history.passes_done.push_back({.pattern = record.value("pattern", ""),
                                     .verified = record.value("verified", false),
                                     .verify_method = record.value("method", "")});
    } else if (step == "rename") {
      std::optional<std::string> from = HexField(record, "from");
      std::optional<std::string> to = HexField(record, "to");
      if (from && to) history.renames.emplace_back(*from, *to);
    } else if (step == "truncate") {
      history.truncate_started = true;
    } else if (step == "unlink") {
      history.unlink_started = true;
    } else if (step == "hold") {
      history.hold_name = HexField(record, "name");
    } else if (step == "rewrite") {
      history.temp_name = HexField(record, "temp");
    } else if (step == "replace") {
      history.replace_started = true;
    } else if (step == "fallback") {
      history.fallback = true;
    }
  }
  return history;
}

}  // namespace offboard::agent
