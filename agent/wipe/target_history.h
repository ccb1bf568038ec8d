// Reading back, from the wipe journal, how far the destruction of one target
// got before a crash: which passes completed, which renames were announced,
// whether truncation, unlinking, an archive rewrite or its replacement had
// begun. The engine then finds the file again by its inode and continues.
// Pure functions over the journal's records.
#ifndef OFFBOARD_AGENT_WIPE_TARGET_HISTORY_H_
#define OFFBOARD_AGENT_WIPE_TARGET_HISTORY_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/wipe/file_destroyer.h"

namespace offboard::agent {

struct TargetHistory {
  std::optional<nlohmann::json> storage;  // the "probe" record's facts
  std::vector<PassRecord> passes_done;    // completed passes, a restarted pass dropping later ones
  std::vector<std::pair<std::string, std::string>> renames;  // announced (from, to), raw names
  bool truncate_started = false;
  bool unlink_started = false;
  std::optional<std::string> hold_name;  // rewrite: the old inode's hidden second name
  std::optional<std::string> temp_name;  // rewrite: the new version being written
  bool replace_started = false;          // rewrite: new version renamed over the original
  bool fallback = false;                 // rewrite impossible: whole file wiped instead

  // Anything was done (the storage probe is journaled before the first change).
  bool started() const { return storage.has_value(); }
};

// The history in `records` (those of one target, in journal order). Records
// with unknown steps or bad fields are ignored: they cannot make the history
// claim more, only less.
TargetHistory ReadTargetHistory(const std::vector<nlohmann::json>& records);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_WIPE_TARGET_HISTORY_H_
