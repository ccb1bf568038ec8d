#include "agent/scan/mount_info.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace offboard::agent {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string DecodeOctalEscapes(absl::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' &&
        field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<MountInfoEntry> ParseMountInfoLine(absl::string_view line) {
  // id parent major:minor root mount-point options [optional...] - type source super
  // One space between fields, always: a filesystem mounted with an empty source
  // (`mount -t tmpfs "" /mnt`) shows as two spaces in a row, and skipping the
  // empty field would shift the super options into the source.
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
  if (fields.size() < 9) return std::nullopt;
  size_t dash = 6;
  while (dash < fields.size() && fields[dash] != "-") ++dash;
  if (dash + 2 >= fields.size()) return std::nullopt;
  MountInfoEntry entry;
  std::pair<absl::string_view, absl::string_view> numbers = absl::StrSplit(fields[2], ':');
  if (!absl::SimpleAtoi(numbers.first, &entry.major) ||
      !absl::SimpleAtoi(numbers.second, &entry.minor)) {
    return std::nullopt;
  }
  entry.root = DecodeOctalEscapes(fields[3]);
  entry.mount_point = DecodeOctalEscapes(fields[4]);
  entry.mount_options = std::string(fields[5]);
  entry.fs_type = DecodeOctalEscapes(fields[dash + 1]);
  entry.source = DecodeOctalEscapes(fields[dash + 2]);
  if (dash + 3 < fields.size()) entry.super_options = std::string(fields[dash + 3]);
  return entry;
}

}  // namespace offboard::agent
