// RFC 4180 output: one field, quoted when it holds a comma, quote, CR or LF,
// with quotes doubled. Pure function.
#ifndef OFFBOARD_COMMON_ENCODING_CSV_H_
#define OFFBOARD_COMMON_ENCODING_CSV_H_

#include <string>

#include "absl/strings/string_view.h"

namespace offboard::common {

std::string CsvField(absl::string_view field);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_ENCODING_CSV_H_
