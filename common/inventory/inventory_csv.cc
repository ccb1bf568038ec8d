// Reading inventories: the record-by-record checks are in
// inventory_csv_reader.cc; this file adds the one check that needs every
// record (no duplicates) and the ways to get at the records.
#include "common/inventory/inventory_csv.h"

#include <cstddef>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/inventory/inventory_csv_reader.h"
#include "common/io/mapped_file.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

using inventory_internal::InventoryCsvReader;

// Pages of a mapped inventory are dropped after every this many bytes parsed.
constexpr size_t kReleaseBytes = size_t{8} << 20;

// Finds a record whose (contract_id, dataset_id, path) an earlier record of
// the same text has, without keeping the keys: it keeps a 64-bit hash of each
// key and the offset of the first record with that hash, and on a hash seen
// before reads that record again to compare the keys. Keys whose hash is
// another key's (no known inventory has one) are kept whole.
class DuplicateKeyCheck {
 public:
  DuplicateKeyCheck(std::string_view text, std::string_view source_name)
      : text_(text), source_name_(source_name) {}

  // The line of an earlier record with the key of `record`, which starts at
  // byte `offset`; 0 (no line) when there is none, and then the key is
  // remembered.
  uint64_t EarlierLine(const InventoryRecord& record, size_t offset) {
    const uint64_t hash =
        absl::HashOf(absl::string_view(record.contract_id), absl::string_view(record.dataset_id),
                     absl::string_view(record.path));
    const auto [first, inserted] = first_offsets_.try_emplace(hash, offset);
    if (inserted) return 0;
    if (SameKey(record, first->second)) return InventoryCsvReader::LineAt(text_, first->second);
    const auto [colliding, new_key] = colliding_keys_.try_emplace(
        FullKey(record.contract_id, record.dataset_id, record.path), record.line);
    return new_key ? 0 : colliding->second;
  }

 private:
  using FullKey = std::tuple<std::string, std::string, std::string>;

  bool SameKey(const InventoryRecord& record, size_t earlier_offset) {
    InventoryCsvReader reader(text_, source_name_);
    reader.Seek(earlier_offset);
    // It was read without error before; failing now would mean the file
    // changed under its mapping, and the colliding-key path stays exact then.
    const absl::StatusOr<bool> read = reader.ReadRecord(&earlier_);
    return read.ok() && *read && earlier_.contract_id == record.contract_id &&
           earlier_.dataset_id == record.dataset_id && earlier_.path == record.path;
  }

  const std::string_view text_;
  const std::string_view source_name_;
  absl::flat_hash_map<uint64_t, uint64_t> first_offsets_;  // key hash -> record offset
  absl::flat_hash_map<FullKey, uint64_t> colliding_keys_;  // -> line
  InventoryRecord earlier_;                                // scratch for SameKey
};

// Reads every record of `text`, handing each to `visit`. `file`, when given,
// holds `text` and gets its parsed pages dropped.
absl::Status ForEachRecord(std::string_view text, std::string_view source_name, MappedFile* file,
                           const InventoryRecordVisitor& visit) {
  InventoryCsvReader reader(text, source_name);
  OFFBOARD_RETURN_IF_ERROR(reader.ReadHeader());
  DuplicateKeyCheck duplicates(text, source_name);
  InventoryRecord record;
  size_t released = 0;
  for (;;) {
    const size_t offset = reader.offset();
    if (file != nullptr && offset - released >= kReleaseBytes) {
      file->ReleaseBefore(offset);
      released = offset;
    }
    OFFBOARD_ASSIGN_OR_RETURN(const bool read, reader.ReadRecord(&record));
    if (!read) return absl::OkStatus();
    if (const uint64_t first_line = duplicates.EarlierLine(record, offset); first_line != 0) {
      return reader.Error(record.line, absl::StrCat("duplicate of line ", first_line,
                                                    ": same contract_id, dataset_id and path"));
    }
    OFFBOARD_RETURN_IF_ERROR(visit(record));
  }
}

InventoryRecordVisitor CollectInto(Inventory* inventory) {
  return [inventory](const InventoryRecord& record) {
    inventory->records.push_back(record);
    return absl::OkStatus();
  };
}

}  // namespace

absl::Status ForEachInventoryRecord(std::string_view text, std::string_view source_name,
                                    const InventoryRecordVisitor& visit) {
  return ForEachRecord(text, source_name, nullptr, visit);
}

absl::Status ForEachInventoryRecord(const boost::filesystem::path& path,
                                    const InventoryRecordVisitor& visit) {
  OFFBOARD_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  const std::string source_name = path.string();
  return ForEachRecord(file.contents(), source_name, &file, visit);
}

absl::StatusOr<Inventory> ParseInventoryCsv(std::string_view text, std::string_view source_name) {
  Inventory inventory;
  OFFBOARD_RETURN_IF_ERROR(ForEachInventoryRecord(text, source_name, CollectInto(&inventory)));
  return inventory;
}

absl::StatusOr<Inventory> ReadInventoryCsv(const boost::filesystem::path& path) {
  Inventory inventory;
  OFFBOARD_RETURN_IF_ERROR(ForEachInventoryRecord(path, CollectInto(&inventory)));
  return inventory;
}

}  // namespace offboard::common
