// The strict RFC 4180 reader behind inventory_csv.h: reads an inventory's text
// record by record and checks each record on its own. Whether a record repeats
// an earlier one is for the caller (inventory_csv.cc), which sees them all.
//
//   InventoryCsvReader reader(text, "inv.csv");
//   OFFBOARD_RETURN_IF_ERROR(reader.ReadHeader());
//   InventoryRecord record;
//   for (;;) {
//     OFFBOARD_ASSIGN_OR_RETURN(const bool read, reader.ReadRecord(&record));
//     if (!read) break;  // end of text
//   }
//
// Internal to offboard_common_inventory. Not thread-safe; several readers may
// share one text.
#ifndef OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_READER_H_
#define OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_READER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/inventory/inventory_csv.h"

namespace offboard::common::inventory_internal {

class InventoryCsvReader {
 public:
  static constexpr size_t kFieldCount = 7;  // the columns of kInventoryCsvHeader

  // `text` must outlive the reader; `source_name` only prefixes errors.
  InventoryCsvReader(std::string_view text, std::string_view source_name)
      : text_(text), source_name_(source_name) {}

  // Skips a UTF-8 BOM and reads the header; call once, first. Fails on an
  // empty text or another header (see ParseInventoryCsv).
  absl::Status ReadHeader();

  // Reads and checks the record at offset(), replacing all of `*record`
  // (reusing its strings' capacity). False, and `*record` untouched, at the
  // end of the text, where only blank lines may remain. Errors are those of
  // ParseInventoryCsv but duplicates, naming the line.
  absl::StatusOr<bool> ReadRecord(InventoryRecord* record);

  // Byte offset where the next record starts.
  size_t offset() const { return pos_; }

  // Moves to a record start found earlier through offset(), to read that
  // record again. Line numbers are then wrong: see LineAt.
  void Seek(size_t offset) { pos_ = offset; }

  // The physical line (1-based) of `text`[offset].
  static uint64_t LineAt(std::string_view text, size_t offset);

  // INVALID_ARGUMENT "<source>:<line>: <message>".
  absl::Status Error(uint64_t line, std::string_view message) const;

 private:
  absl::Status FieldError(uint64_t line, size_t field, std::string_view message) const;

  // Reads the record at pos_ up to and including its line break, storing the
  // first kFieldCount values in fields_ and the number of fields in
  // field_count_. SplitRecord() takes the common case, a line without quotes,
  // with a few memchr calls and hands everything else to SplitQuotedRecord().
  absl::Status SplitRecord();
  absl::Status SplitQuotedRecord();
  absl::Status ReadQuotedField(size_t field, std::string_view* value);
  absl::Status ReadUnquotedField(size_t field, std::string_view* value);
  // Checks fields_, read from `raw`, and stores the parsed size.
  absl::Status CheckRecord(uint64_t line, std::string_view raw, uint64_t* size) const;
  absl::Status CheckSize(uint64_t line, uint64_t* size) const;
  absl::Status CheckSha256(uint64_t line) const;

  const std::string_view text_;
  const std::string_view source_name_;
  size_t pos_ = 0;
  uint64_t line_ = 1;  // physical line of text_[pos_]
  // Views into text_, or into unescaped_ when a quoted field has "" escapes,
  // so a record costs no allocation beyond the strings of InventoryRecord.
  std::array<std::string_view, kFieldCount> fields_;
  size_t field_count_ = 0;
  // One more than kFieldCount so that surplus fields have somewhere to go.
  std::array<std::string, kFieldCount + 1> unescaped_;
};

}  // namespace offboard::common::inventory_internal

#endif  // OFFBOARD_COMMON_INVENTORY_INVENTORY_CSV_READER_H_
