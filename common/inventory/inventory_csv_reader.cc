#include "common/inventory/inventory_csv_reader.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/encoding/utf8.h"
#include "common/status/status_macros.h"

namespace offboard::common::inventory_internal {
namespace {

// Column indexes, in header order.
enum Field : size_t { kContractId, kVendorId, kDatasetId, kClassification, kPath, kSize, kSha256 };

constexpr std::array<std::string_view, InventoryCsvReader::kFieldCount> kFieldNames = {
    "contract_id", "vendor_id", "dataset_id", "classification", "path", "size", "sha256"};

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Debian's abseil is built with its own absl::string_view, which does not
// convert from std::string_view; this is the one crossing point.
absl::string_view AsAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

constexpr std::array<bool, 256> kIsLowerHex = [] {
  std::array<bool, 256> table{};
  for (unsigned char c : std::string_view("0123456789abcdef")) table[c] = true;
  return table;
}();

// `value` in double quotes, C-escaped and shortened, for error messages.
std::string Quoted(std::string_view value) {
  constexpr size_t kMaxShown = 80;
  const bool shortened = value.size() > kMaxShown;
  return absl::StrCat("\"", absl::CHexEscape(AsAbsl(value.substr(0, kMaxShown))),
                      shortened ? "...\"" : "\"");
}

bool IsLineBreakAt(std::string_view text, size_t pos) {
  return text[pos] == '\n' || (text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n');
}

const char* Find(const char* begin, const char* end, char c) {
  return static_cast<const char*>(std::memchr(begin, c, end - begin));
}

size_t CountLineFeeds(std::string_view text) {
  size_t count = 0;
  const char* const end = text.data() + text.size();
  for (const char* p = text.data(); (p = Find(p, end, '\n')) != nullptr; ++p) {
    ++count;
  }
  return count;
}

// Offset of the first NUL byte or invalid UTF-8 sequence in `value`, or npos.
size_t FindTextProblem(std::string_view value) {
  return std::min(value.find('\0'), FindInvalidUtf8(AsAbsl(value)));
}

// Number of code points in valid UTF-8: every byte but continuation bytes.
size_t CodePointCount(std::string_view value) {
  return static_cast<size_t>(std::count_if(value.begin(), value.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

absl::StatusOr<bool> InventoryCsvReader::ReadRecord(InventoryRecord* record) {
  if (pos_ >= text_.size()) return false;
  const uint64_t line = line_;
  if (IsLineBreakAt(text_, pos_)) {
    // Trailing empty lines are common editor output; an empty line between
    // records more likely means a record went missing.
    if (text_.find_first_not_of("\r\n", pos_) == std::string_view::npos) return false;
    return Error(line, "empty record: blank lines are allowed only at the end");
  }
  const size_t begin = pos_;
  OFFBOARD_RETURN_IF_ERROR(SplitRecord());
  uint64_t size = 0;
  OFFBOARD_RETURN_IF_ERROR(CheckRecord(line, text_.substr(begin, pos_ - begin), &size));
  record->contract_id.assign(fields_[kContractId]);
  record->vendor_id.assign(fields_[kVendorId]);
  record->dataset_id.assign(fields_[kDatasetId]);
  record->classification.assign(fields_[kClassification]);
  record->path.assign(fields_[kPath]);
  record->size = size;
  record->sha256.assign(fields_[kSha256]);
  record->line = line;
  return true;
}

uint64_t InventoryCsvReader::LineAt(std::string_view text, size_t offset) {
  return 1 + CountLineFeeds(text.substr(0, offset));
}

absl::Status InventoryCsvReader::Error(uint64_t line, std::string_view message) const {
  return absl::InvalidArgumentError(
      absl::StrCat(AsAbsl(source_name_), ":", line, ": ", AsAbsl(message)));
}

absl::Status InventoryCsvReader::FieldError(uint64_t line, size_t field,
                                            std::string_view message) const {
  if (field >= kFieldCount) return Error(line, message);
  return Error(line, absl::StrCat("field '", AsAbsl(kFieldNames[field]), "': ", AsAbsl(message)));
}

absl::Status InventoryCsvReader::ReadHeader() {
  if (text_.substr(0, kBom.size()) == kBom) pos_ = kBom.size();
  if (text_.find_first_not_of(" \t\r\n", pos_) == std::string_view::npos) {
    return Error(1,
                 absl::StrCat("empty file: expected header \"", AsAbsl(kInventoryCsvHeader), "\""));
  }
  // Names and order must match exactly (quoting aside, which RFC 4180 leaves
  // to the writer): the header is how a wrong file or export is caught early.
  const size_t begin = pos_;
  bool matches = SplitRecord().ok() && field_count_ == kFieldCount;
  for (size_t field = 0; matches && field < kFieldCount; ++field) {
    matches = fields_[field] == kFieldNames[field];
  }
  if (!matches) {
    std::string_view header = text_.substr(begin, text_.find('\n', begin) - begin);
    if (!header.empty() && header.back() == '\r') header.remove_suffix(1);
    return Error(1, absl::StrCat("expected header \"", AsAbsl(kInventoryCsvHeader), "\", got ",
                                 Quoted(header)));
  }
  return absl::OkStatus();
}

absl::Status InventoryCsvReader::SplitRecord() {
  const char* const begin = text_.data() + pos_;
  const char* const text_end = text_.data() + text_.size();
  const char* const newline = Find(begin, text_end, '\n');
  const char* end = newline == nullptr ? text_end : newline;
  if (newline != nullptr && end > begin && end[-1] == '\r') --end;
  if (Find(begin, end, '"') != nullptr || Find(begin, end, '\r') != nullptr) {
    return SplitQuotedRecord();  // also reports stray quotes and CRs
  }
  field_count_ = 0;
  for (const char* field = begin;;) {
    const char* comma = Find(field, end, ',');
    const char* field_end = comma == nullptr ? end : comma;
    if (field_count_ < kFieldCount) {
      fields_[field_count_] = std::string_view(field, field_end - field);
    }
    ++field_count_;
    if (comma == nullptr) break;
    field = comma + 1;
  }
  if (newline == nullptr) {
    pos_ = text_.size();
  } else {
    pos_ = newline + 1 - text_.data();
    ++line_;
  }
  return absl::OkStatus();
}

absl::Status InventoryCsvReader::SplitQuotedRecord() {
  field_count_ = 0;
  for (;;) {
    const size_t field = field_count_;
    std::string_view value;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      OFFBOARD_RETURN_IF_ERROR(ReadQuotedField(field, &value));
    } else {
      OFFBOARD_RETURN_IF_ERROR(ReadUnquotedField(field, &value));
    }
    if (field < kFieldCount) fields_[field] = value;
    ++field_count_;

    if (pos_ == text_.size()) return absl::OkStatus();  // no final newline
    switch (text_[pos_]) {
      case ',':
        ++pos_;
        continue;
      case '\n':
        ++pos_;
        ++line_;
        return absl::OkStatus();
      case '\r':
        if (IsLineBreakAt(text_, pos_)) {
          pos_ += 2;
          ++line_;
          return absl::OkStatus();
        }
        return FieldError(line_, field, "carriage return not followed by a line feed");
      default:  // only reachable after a closing quote
        return FieldError(line_, field,
                          "unexpected text after a closing quote; a quote "
                          "inside a quoted field must be doubled (\"\")");
    }
  }
}

absl::Status InventoryCsvReader::ReadQuotedField(size_t field, std::string_view* value) {
  const uint64_t open_line = line_;
  ++pos_;  // the opening quote
  const size_t start = pos_;
  std::string* unescaped = nullptr;  // set on the first "" escape
  for (;;) {
    const size_t quote = text_.find('"', pos_);
    if (quote == std::string_view::npos) {
      return FieldError(open_line, field,
                        "unterminated quoted field: the quote opened on this "
                        "line is never closed");
    }
    line_ += static_cast<uint64_t>(std::count(text_.begin() + pos_, text_.begin() + quote, '\n'));
    const bool escaped = quote + 1 < text_.size() && text_[quote + 1] == '"';
    if (escaped) {
      if (unescaped == nullptr) {
        unescaped = &unescaped_[std::min<size_t>(field, kFieldCount)];
        unescaped->clear();
      }
      unescaped->append(text_.substr(pos_, quote + 1 - pos_));  // keeps one "
      pos_ = quote + 2;
      continue;
    }
    if (unescaped == nullptr) {
      *value = text_.substr(start, quote - start);
    } else {
      unescaped->append(text_.substr(pos_, quote - pos_));
      *value = *unescaped;
    }
    pos_ = quote + 1;
    return absl::OkStatus();
  }
}

absl::Status InventoryCsvReader::ReadUnquotedField(size_t field, std::string_view* value) {
  const size_t start = pos_;
  pos_ = std::min(text_.find_first_of(",\n\r\"", pos_), text_.size());
  if (pos_ < text_.size() && text_[pos_] == '"') {
    return FieldError(line_, field,
                      "quote inside an unquoted field; quote the whole field "
                      "and double the quote (\"\")");
  }
  *value = text_.substr(start, pos_ - start);
  return absl::OkStatus();
}

absl::Status InventoryCsvReader::CheckRecord(uint64_t line, std::string_view raw,
                                             uint64_t* size) const {
  if (field_count_ != kFieldCount) {
    return Error(line, absl::StrCat("expected ", kFieldCount, " fields, got ", field_count_));
  }
  // Delimiters and quotes are ASCII, so the fields are clean exactly when the
  // raw record is; one pass over it is faster than seven short ones.
  if (FindTextProblem(raw) != std::string_view::npos) {
    for (size_t field = 0; field < kFieldCount; ++field) {
      const size_t at = FindTextProblem(fields_[field]);
      if (at == std::string_view::npos) continue;
      return FieldError(line, field,
                        fields_[field][at] == '\0'
                            ? absl::StrCat("contains a NUL byte at offset ", at)
                            : absl::StrCat("invalid UTF-8 at byte offset ", at));
    }
  }
  for (size_t field : {kContractId, kVendorId, kDatasetId, kClassification, kPath}) {
    if (fields_[field].empty()) return FieldError(line, field, "must not be empty");
  }
  OFFBOARD_RETURN_IF_ERROR(CheckSize(line, size));
  return CheckSha256(line);
}

absl::Status InventoryCsvReader::CheckSize(uint64_t line, uint64_t* size) const {
  const std::string_view value = fields_[kSize];
  if (value.empty()) {
    return FieldError(line, kSize, "not a number: empty; expected decimal digits");
  }
  if (value.front() == '-') {
    return FieldError(line, kSize, absl::StrCat("must not be negative, got ", Quoted(value)));
  }
  if (value.find_first_not_of("0123456789") != std::string_view::npos) {
    return FieldError(
        line, kSize,
        absl::StrCat("not a number: ", Quoted(value), "; expected decimal digits only"));
  }
  const std::errc error = std::from_chars(value.data(), value.data() + value.size(), *size).ec;
  if (error == std::errc::result_out_of_range) {
    return FieldError(line, kSize,
                      absl::StrCat("too large: ", Quoted(value), " exceeds ",
                                   std::numeric_limits<uint64_t>::max()));
  }
  return absl::OkStatus();  // digits only, so from_chars either fit or overflowed
}

absl::Status InventoryCsvReader::CheckSha256(uint64_t line) const {
  const std::string_view value = fields_[kSha256];
  constexpr char kExpected[] = "expected 64 lowercase hex digits";
  if (value.size() == 64 && std::all_of(value.begin(), value.end(), [](char c) {
        return kIsLowerHex[static_cast<unsigned char>(c)];
      })) {
    return absl::OkStatus();
  }
  if (value.size() != 64) {
    return FieldError(line, kSha256,
                      absl::StrCat(kExpected, ", got ", CodePointCount(value), " characters"));
  }
  const size_t bad = value.find_first_not_of("0123456789abcdefABCDEF");
  if (bad == std::string_view::npos) return FieldError(line, kSha256, "must be lowercase hex");
  return FieldError(line, kSha256,
                    absl::StrCat(kExpected, ", got non-hex character ",
                                 Quoted(value.substr(bad, 1)), " at position ", bad));
}

}  // namespace offboard::common::inventory_internal
