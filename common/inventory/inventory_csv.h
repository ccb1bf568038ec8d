// The bank's inventory: one CSV row per file the bank delivered to a vendor.
//
// Format (INTERFACE.md, "Inventory"): RFC 4180, UTF-8, with exactly these
// columns in this order (a writer may quote the names)
//
//   contract_id,vendor_id,dataset_id,classification,path,size,sha256
//
// The parser is strict because an inventory decides what a vendor must prove
// deleted: a typo must be an error, never a silently different row. Any bad
// row fails the whole parse; there are no partial results.
//
//   absl::StatusOr<Inventory> inventory = ReadInventoryCsv("/srv/inv.csv");
//   if (!inventory.ok()) return inventory.status();  // names file and line
//   for (const InventoryRecord& record : inventory->records) { ... }
//
// Thread-safe: plain functions without shared state.
#ifndef OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_H_
#define OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace offboard::common {

// The header line an inventory must start with (after an optional BOM).
inline constexpr std::string_view kInventoryCsvHeader =
    "contract_id,vendor_id,dataset_id,classification,path,size,sha256";

struct InventoryRecord {
  std::string contract_id;
  std::string vendor_id;
  std::string dataset_id;
  std::string classification;
  std::string path;  // the name as delivered; vendor copies may be renamed
  uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex digits
  // Physical line (1-based) where the record starts. Quoted fields may span
  // lines, so this is not the record's index plus two.
  uint64_t line = 0;
};

struct Inventory {
  std::vector<InventoryRecord> records;  // in file order
};

// Parses an inventory held in memory. `source_name` only prefixes error
// messages. Accepts an optional UTF-8 BOM, LF or CRLF line endings (mixed),
// quoted fields with "" escapes and embedded commas or newlines, an absent
// final newline, and empty lines after the last record. A header without
// records is a valid, empty inventory. Reading is single-pass and takes
// about a second per million records; the whole text is held in memory.
//
// Fails with INVALID_ARGUMENT, message "<source>:<line>: field '<name>': ..."
// (the field part only when the error is about one field), on: an empty file,
// a header with other names or order, a record without exactly 7 fields, an empty line between
// records, an unterminated quote (the line where it opened), a stray quote or
// carriage return, NUL or invalid UTF-8 in a field, an empty id,
// classification or path, a size that is not a plain decimal uint64, a sha256
// that is not 64 lowercase hex digits, and a second record with the same
// (contract_id, dataset_id, path) (naming the first one's line). Content
// errors name the line where the record starts.
absl::StatusOr<Inventory> ParseInventoryCsv(std::string_view text, std::string_view source_name);

// Reads `path` and parses it with `path` as source name. NOT_FOUND,
// PERMISSION_DENIED or INTERNAL, naming the path, when it cannot be read.
absl::StatusOr<Inventory> ReadInventoryCsv(const boost::filesystem::path& path);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_H_
