// Shared pieces of the SQLite store tests: opening a store on a real file, a
// raw connection to look under it, and rows with plausible values.
#ifndef OFFBOARD_TESTS_CONTROLLER_STORE_SQLITE_STORE_FIXTURES_H_
#define OFFBOARD_TESTS_CONTROLLER_STORE_SQLITE_STORE_FIXTURES_H_

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/store/sqlite_store.h"

namespace offboard::controller {

inline std::unique_ptr<ControllerStore> OpenOrDie(const boost::filesystem::path& path) {
  absl::StatusOr<std::unique_ptr<ControllerStore>> store = OpenSqliteStore(path);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// A connection of the test's own, to look under the store.
inline SqliteDb RawConnection(const boost::filesystem::path& path) {
  sqlite3* raw = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  return SqliteDb(raw);
}

inline int64_t QueryInt(sqlite3* db, absl::string_view sql) {
  absl::StatusOr<Statement> query = Statement::Prepare(db, sql);
  EXPECT_TRUE(query.ok()) << query.status();
  absl::StatusOr<bool> row = query->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  return query->Int64(0);
}

inline mode_t ModeOf(const boost::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

inline std::string Hex64(int n) { return absl::StrFormat("%064x", n); }

inline Enrollment AgentKey(absl::string_view agent_id) {
  Enrollment e;
  e.agent_id = std::string(agent_id);
  e.hostname = absl::StrCat(agent_id, ".vendor.example");
  e.attestation_public_key_pem = "-----BEGIN PUBLIC KEY-----\n...\n";
  e.attestation_key_id = Hex64(7);
  e.client_certificate_pem = "-----BEGIN CERTIFICATE-----\n...\n";
  e.certificate_serial_hex = "01ab";
  e.enrolled_at = 1000;
  return e;
}

// Enrolls `agent_id` for `vendor_id` through a fresh token.
inline void Enroll(ControllerStore& store, absl::string_view agent_id,
                   absl::string_view vendor_id) {
  const std::string token = absl::StrCat("token-of-", agent_id);
  ASSERT_TRUE(store
                  .PutToken({token, std::string(vendor_id), absl::StrCat("host-", agent_id), 0,
                             100000, false})
                  .ok());
  ASSERT_TRUE(store.ConsumeTokenAndEnroll(token, 1000, AgentKey(agent_id), {}).ok());
}

inline OrderRow MakeOrder(absl::string_view order_id, absl::string_view contract_id,
                          absl::string_view agent_id, int64_t issued_at = 2000) {
  return OrderRow{std::string(order_id),
                  std::string(contract_id),
                  "vendor-a",
                  absl::StrCat("host-", agent_id),
                  std::string(agent_id),
                  Hex64(42),
                  "nist-800-88-clear",
                  issued_at,
                  issued_at + 86400,
                  absl::StrCat("{\"payload\":\"", order_id, "\"}")};
}

inline InventoryFileRow MakeInventoryRow(absl::string_view contract_id,
                                         absl::string_view dataset_id, absl::string_view path,
                                         uint64_t size = 10) {
  return InventoryFileRow{
      std::string(contract_id), "vendor-a", std::string(dataset_id),      "confidential",
      std::string(path),        size,       Hex64(static_cast<int>(size))};
}

}  // namespace offboard::controller

#endif  // OFFBOARD_TESTS_CONTROLLER_STORE_SQLITE_STORE_FIXTURES_H_
