#include "common/policy/wipe_policy.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/encoding/utf8.h"
#include "common/io/read_file.h"
#include "common/status/status_macros.h"

namespace offboard::common {
namespace {

using offboard::v1::WipePolicy;

// Upper bounds that keep a typo from turning into a week-long wipe.
constexpr int kMaxPasses = 35;  // Gutmann's 35 passes are the historical maximum
constexpr uint32_t kMaxArchiveDepth = 16;
constexpr uint32_t kMaxRenameRounds = 32;
constexpr uint64_t kMaxPolicyBytes = 1 << 20;

// Keeps the first error the text-format parser reports, with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!has_error_) {
      // The parser counts from 0; people count from 1.
      first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
      has_error_ = true;
    }
  }
  const std::string& first() const { return first_; }

 private:
  bool has_error_ = false;
  std::string first_;
};

absl::Status FieldError(absl::string_view source, absl::string_view field,
                        absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": field '", field, "': ", problem));
}

// Proto3 enums are open: text format accepts any number ("verification: 7").
absl::Status UnknownValue(absl::string_view source, absl::string_view field, int value) {
  return FieldError(source, field, absl::StrCat("unknown value ", value));
}

}  // namespace

absl::Status ValidateWipePolicy(const WipePolicy& policy, absl::string_view source) {
  if (policy.name().empty()) return FieldError(source, "name", "must be set");
  // The text format lets escapes such as "\xff" into string fields; such a
  // policy could not be serialized into a wipe order.
  if (!IsValidUtf8(policy.name())) return FieldError(source, "name", "is not valid UTF-8");
  if (!IsValidUtf8(policy.description())) {
    return FieldError(source, "description", "is not valid UTF-8");
  }
  if (policy.passes().empty()) {
    return FieldError(source, "passes", "at least one overwrite pass is required");
  }
  if (policy.passes_size() > kMaxPasses) {
    return FieldError(source, "passes", absl::StrCat("at most ", kMaxPasses, " passes"));
  }
  for (int i = 0; i < policy.passes_size(); ++i) {
    const offboard::v1::OverwritePass& pass = policy.passes(i);
    const std::string field = absl::StrCat("passes[", i, "]");
    if (pass.pattern() == offboard::v1::PASS_PATTERN_UNSPECIFIED) {
      return FieldError(source, field + ".pattern", "must be set");
    }
    if (!offboard::v1::PassPattern_IsValid(pass.pattern())) {
      return UnknownValue(source, field + ".pattern", pass.pattern());
    }
    if (pass.pattern() == offboard::v1::PASS_PATTERN_BYTE && pass.byte() > 255) {
      return FieldError(source, field + ".byte", "must be 0..255");
    }
    if (pass.pattern() != offboard::v1::PASS_PATTERN_BYTE && pass.byte() != 0) {
      return FieldError(source, field + ".byte", "only applies to PASS_PATTERN_BYTE");
    }
  }
  if (policy.verification() == offboard::v1::VERIFICATION_UNSPECIFIED) {
    return FieldError(source, "verification", "must be set");
  }
  if (!offboard::v1::Verification_IsValid(policy.verification())) {
    return UnknownValue(source, "verification", policy.verification());
  }
  if (policy.rename_rounds() > kMaxRenameRounds) {
    return FieldError(source, "rename_rounds", absl::StrCat("at most ", kMaxRenameRounds));
  }
  if (policy.archive_members() == offboard::v1::ARCHIVE_MEMBER_ACTION_UNSPECIFIED) {
    return FieldError(source, "archive_members", "must be set");
  }
  if (!offboard::v1::ArchiveMemberAction_IsValid(policy.archive_members())) {
    return UnknownValue(source, "archive_members", policy.archive_members());
  }
  if (policy.unwritable_archives() == offboard::v1::UNWRITABLE_ARCHIVE_ACTION_UNSPECIFIED) {
    return FieldError(source, "unwritable_archives", "must be set");
  }
  if (!offboard::v1::UnwritableArchiveAction_IsValid(policy.unwritable_archives())) {
    return UnknownValue(source, "unwritable_archives", policy.unwritable_archives());
  }
  if (policy.derived_copies() == offboard::v1::DERIVED_COPY_ACTION_UNSPECIFIED) {
    return FieldError(source, "derived_copies", "must be set");
  }
  if (!offboard::v1::DerivedCopyAction_IsValid(policy.derived_copies())) {
    return UnknownValue(source, "derived_copies", policy.derived_copies());
  }
  if (!policy.has_scan_limits()) return FieldError(source, "scan_limits", "must be set");
  const offboard::v1::ScanLimits& limits = policy.scan_limits();
  if (limits.max_archive_depth() < 1 || limits.max_archive_depth() > kMaxArchiveDepth) {
    return FieldError(source, "scan_limits.max_archive_depth",
                      absl::StrCat("must be 1..", kMaxArchiveDepth));
  }
  if (limits.max_member_bytes() == 0) {
    return FieldError(source, "scan_limits.max_member_bytes", "must be positive");
  }
  if (limits.max_archive_bytes() < limits.max_member_bytes()) {
    return FieldError(source, "scan_limits.max_archive_bytes", "must be at least max_member_bytes");
  }
  if (limits.max_compression_ratio() < 1) {
    return FieldError(source, "scan_limits.max_compression_ratio", "must be at least 1");
  }
  if (limits.per_file_timeout_seconds() < 1) {
    return FieldError(source, "scan_limits.per_file_timeout_seconds", "must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<WipePolicy> ParseWipePolicy(absl::string_view text, absl::string_view source_name) {
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  WipePolicy policy;
  if (!parser.ParseFromString(std::string(text), &policy)) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", errors.first()));
  }
  OFFBOARD_RETURN_IF_ERROR(ValidateWipePolicy(policy, source_name));
  return policy;
}

absl::StatusOr<WipePolicy> LoadWipePolicy(const boost::filesystem::path& path) {
  OFFBOARD_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxPolicyBytes));
  OFFBOARD_ASSIGN_OR_RETURN(WipePolicy policy, ParseWipePolicy(text, path.string()));
  const std::string stem = path.stem().string();
  if (policy.name() != stem) {
    return FieldError(
        path.string(), "name",
        absl::StrCat("is \"", policy.name(), "\" but the file is named \"", stem, ".textproto\""));
  }
  return policy;
}

}  // namespace offboard::common
