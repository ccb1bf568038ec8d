#include "agent/identity/decommission_record.h"

#include <boost/filesystem/operations.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/io/read_file.h"

namespace offboard::agent {
namespace {

namespace fs = boost::filesystem;

// The record's field, or "?" when it cannot be read.
std::string Field(const fs::path& record, const char* key) {
  absl::StatusOr<std::string> text = common::ReadFileToString(record, 1 << 20);
  if (!text.ok()) return "?";
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains(key) || !json[key].is_string()) return "?";
  return json[key].get<std::string>();
}

}  // namespace

fs::path DecommissionRecordPath(const fs::path& data_dir) {
  return data_dir / "decommissioned.json";
}

fs::path DecommissionPendingPath(const fs::path& data_dir) {
  return data_dir / "decommission-pending.json";
}

absl::Status CheckNotDecommissioned(const fs::path& data_dir) {
  boost::system::error_code error;
  const fs::path record = DecommissionRecordPath(data_dir);
  if (fs::exists(record, error)) {
    return absl::FailedPreconditionError(absl::StrCat(
        data_dir.string(), ": agent ", Field(record, "agent_id"), " was decommissioned at ",
        Field(record, "decommissioned_at"), " (", record.string(),
        "): its keys are destroyed and the controller banned its identity; enroll this host "
        "again, if at all, with a fresh --data-dir"));
  }
  const fs::path pending = DecommissionPendingPath(data_dir);
  if (fs::exists(pending, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat(data_dir.string(), ": agent ", Field(pending, "agent_id"),
                     " is being decommissioned: the controller banned it at ",
                     Field(pending, "banned_at_controller"), " (", pending.string(),
                     "); run `offboard-agent decommission --data-dir ", data_dir.string(),
                     "` again to finish destroying its keys"));
  }
  return absl::OkStatus();
}

}  // namespace offboard::agent
