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
// A million rows take hundreds of MiB as an Inventory. Callers that only
// derive something smaller from the rows (an index, a summary) stream them:
//
//   absl::Status read = ForEachInventoryRecord("/srv/inv.csv", [&](const InventoryRecord& r) {
//     index.Add(r);  // acted on only once `read` is OK
//     return absl::OkStatus();
//   });
//
// Thread-safe: plain functions without shared state.
#ifndef OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_H_
#define OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_H_

#include <boost/filesystem/path.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
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
// about a second per million records.
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

// Receives the records of an inventory one by one, in file order. The record
// is valid only during the call (its strings are reused for the next one). A
// non-OK status stops the reading and is returned unchanged.
using InventoryRecordVisitor = std::function<absl::Status(const InventoryRecord& record)>;

// Reads `path` as ReadInventoryCsv does, with the same checks and errors, but
// hands each record to `visit` instead of keeping it. The file is mapped and
// parsed in place, its pages dropped once parsed. What stays, until this
// returns, is a hash table for finding duplicates: a 64-bit hash and an offset
// per record, about 34 MiB for a million records (half as much again while
// the table grows), where an Inventory of them takes hundreds of MiB.
//
// `visit` sees a record before later ones are checked, and never sees one that
// fails a check or repeats an earlier one. The inventory is valid only when
// this returns OK: until then a caller may build from the records (an index,
// a count) but must not act on them.
absl::Status ForEachInventoryRecord(const boost::filesystem::path& path,
                                    const InventoryRecordVisitor& visit);

// The same for text held in memory; `source_name` only prefixes errors.
absl::Status ForEachInventoryRecord(std::string_view text, std::string_view source_name,
                                    const InventoryRecordVisitor& visit);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_H_
