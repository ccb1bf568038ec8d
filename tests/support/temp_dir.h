// A temporary directory that a test creates and removes, so that tests that
// write files (and, later, tests that wipe them) never touch anything else.
#ifndef OFFBOARD_TESTS_SUPPORT_TEMP_DIR_H_
#define OFFBOARD_TESTS_SUPPORT_TEMP_DIR_H_

#include <boost/filesystem.hpp>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "absl/strings/string_view.h"

namespace offboard::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (boost::filesystem::temp_directory_path() / "offboard-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    boost::system::error_code ignored;
    boost::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const boost::filesystem::path& path() const { return path_; }

  // Writes `contents` to `name` under the directory and returns its path.
  boost::filesystem::path WriteFile(absl::string_view name, absl::string_view contents) const {
    const boost::filesystem::path file = path_ / std::string(name);
    boost::filesystem::create_directories(file.parent_path());
    std::ofstream out(file.string(), std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return file;
  }

 private:
  boost::filesystem::path path_;
};

}  // namespace offboard::testing

#endif  // OFFBOARD_TESTS_SUPPORT_TEMP_DIR_H_
