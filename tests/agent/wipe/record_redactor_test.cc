// Tests of RedactRecords on real temporary files.
#include "agent/wipe/record_redactor.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "common/io/unique_fd.h"

#include "tests/support/fingerprint_sets.h"

namespace offboard::agent {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using testing::CustomerId;

std::vector<uint8_t> Key(uint8_t seed) { return testing::TestKey(seed); }

common::FingerprintSet MakeSet(std::string dataset_id, std::vector<uint8_t> key, std::string regex,
                               const std::vector<std::string>& ids) {
  return testing::MakeFingerprintSet(std::move(dataset_id), std::move(key), std::move(regex),
                                     /*min_matches=*/1, ids);
}

// Customers CUST-00000000..CUST-00000999; accounts ACCT-100000..ACCT-100099.
FingerprintIndex CustomersAndAccounts() {
  std::vector<std::string> customers, accounts;
  for (int i = 0; i < 1000; ++i) customers.push_back(CustomerId(i));
  for (int i = 0; i < 100; ++i) accounts.push_back("ACCT-" + std::to_string(100000 + i));
  absl::StatusOr<FingerprintIndex> index =
      FingerprintIndex::Build({MakeSet("customers", Key(1), R"(CUST-\d{8})", customers),
                               MakeSet("accounts", Key(2), R"(ACCT-\d{6})", accounts)});
  EXPECT_TRUE(index.ok()) << index.status();
  return std::move(index).value();
}

// A file with `contents` in the test's temporary directory, already unlinked.
common::UniqueFd TempFile(const std::string& contents = "") {
  std::string path = ::testing::TempDir() + "/record_redactor_test.XXXXXX";
  common::UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
  EXPECT_TRUE(fd) << path;
  ::unlink(path.c_str());
  EXPECT_EQ(::write(fd.get(), contents.data(), contents.size()),
            static_cast<ssize_t>(contents.size()));
  return fd;
}

std::string ReadAll(int fd) {
  std::string contents;
  char buffer[65536];
  ssize_t n;
  while ((n = ::pread(fd, buffer, sizeof(buffer), static_cast<off_t>(contents.size()))) > 0) {
    contents.append(buffer, static_cast<size_t>(n));
  }
  return contents;
}

struct Redacted {
  absl::StatusOr<RedactionResult> result;
  std::string output;
};

Redacted Redact(const std::string& input, const absl::flat_hash_set<std::string>& datasets,
                const FingerprintIndex& index) {
  common::UniqueFd source = TempFile(input);
  common::UniqueFd dest = TempFile();
  Redacted redacted{RedactRecords(source.get(), dest.get(), index, datasets, "/srv/x.csv"), ""};
  redacted.output = ReadAll(dest.get());
  return redacted;
}

std::vector<DerivedMatch> Scan(const FingerprintIndex& index, const std::string& text) {
  DerivedMatcher matcher(index);
  matcher.Consume(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return matcher.Finish();
}

TEST(RecordRedactorTest, CsvRowsWithRecordsGoOthersStayByteForByte) {
  const FingerprintIndex index = CustomersAndAccounts();
  // CRLF throughout, a row without any identifier, decoys of the right shape,
  // and a last row without a line ending.
  const std::vector<std::string> rows = {
      "customer_id,name,note\r\n",
      "CUST-00005001,Decoy One,\"not ours\"\r\n",
      "CUST-00000042,Jane Doe,\"ours\"\r\n",  // record
      ",No Id,\r\n",
      "CUST-00005002,Decoy Two,x\r\n",
      "cust-00000043,lower case,x\r\n",
      "CUST-00005003,\"CUST-00000044 in a note\",x\r\n",  // record, second field
      "CUST-00005004,Decoy Three,x\r\n",
      "CUST-00005005,Decoy Four,x\r\n",
      "CUST-00000999,John Roe,x\r\n",  // record
      "CUST-00005006,Decoy Five,no newline",
  };
  std::string input, expected;
  for (const std::string& row : rows) input += row;
  for (size_t i : {0, 1, 3, 4, 5, 7, 8, 10}) expected += rows[i];

  const Redacted redacted = Redact(input, {"customers"}, index);
  ASSERT_TRUE(redacted.result.ok()) << redacted.result.status();
  EXPECT_EQ(redacted.output, expected);
  EXPECT_EQ(redacted.result->lines_read, 11u);
  EXPECT_EQ(redacted.result->lines_removed, 3u);
  EXPECT_EQ(redacted.result->bytes_written, expected.size());
}

TEST(RecordRedactorTest, LastLineWithoutNewlineIsRemovedWhenItHoldsARecord) {
  const FingerprintIndex index = CustomersAndAccounts();
  const Redacted redacted = Redact("id\nCUST-00005001\nCUST-00000001", {"customers"}, index);
  ASSERT_TRUE(redacted.result.ok()) << redacted.result.status();
  EXPECT_EQ(redacted.output, "id\nCUST-00005001\n");
  EXPECT_EQ(redacted.result->lines_read, 3u);
  EXPECT_EQ(redacted.result->lines_removed, 1u);
}

TEST(RecordRedactorTest, HeaderThatHoldsARecordGoesToo) {
  const FingerprintIndex index = CustomersAndAccounts();
  const Redacted redacted = Redact("CUST-00000001,x\nCUST-00005001,y\n", {"customers"}, index);
  ASSERT_TRUE(redacted.result.ok()) << redacted.result.status();
  EXPECT_EQ(redacted.output, "CUST-00005001,y\n");
}

TEST(RecordRedactorTest, RecordsOfOtherDatasetsStay) {
  const FingerprintIndex index = CustomersAndAccounts();
  const std::string input =
      "customer,account\n"
      "CUST-00000001,ACCT-100001\n"
      "CUST-00000002,ACCT-999999\n"
      "CUST-00005000,ACCT-100002\n";
  const Redacted accounts = Redact(input, {"accounts"}, index);
  ASSERT_TRUE(accounts.result.ok()) << accounts.result.status();
  EXPECT_EQ(accounts.output, "customer,account\nCUST-00000002,ACCT-999999\n");
  const Redacted both = Redact(input, {"accounts", "customers"}, index);
  ASSERT_TRUE(both.result.ok()) << both.result.status();
  EXPECT_EQ(both.output, "customer,account\n");
}

TEST(RecordRedactorTest, MatcherFindsNoRecordInTheOutput) {
  // ~1.3 MB: lines cross the 256 KiB reads; every seventh row is the bank's.
  const FingerprintIndex index = CustomersAndAccounts();
  std::string input = "customer_id,name,since,balance\n", expected = input;
  for (int i = 0; i < 30000; ++i) {
    const bool ours = i % 7 == 0;
    const std::string row =
        CustomerId(ours ? i % 1000 : 10000 + i) + ",Jane Doe,2024-01-01,1234.56\n";
    input += row;
    if (!ours) expected += row;
  }
  ASSERT_THAT(Scan(index, input), ::testing::Not(IsEmpty()));
  const Redacted redacted = Redact(input, {"customers"}, index);
  ASSERT_TRUE(redacted.result.ok()) << redacted.result.status();
  EXPECT_EQ(redacted.result->lines_removed, 30000u / 7 + 1);
  EXPECT_EQ(redacted.output, expected);
  EXPECT_THAT(Scan(index, redacted.output), IsEmpty());
}

TEST(RecordRedactorTest, BinaryInputIsRefused) {
  const FingerprintIndex index = CustomersAndAccounts();
  // A NUL early, and one after the first read, once lines were written.
  for (size_t at : {size_t{3}, size_t{600000}}) {
    std::string input(700000, 'a');
    for (size_t i = 99; i < input.size(); i += 100) input[i] = '\n';
    input[at] = '\0';
    const Redacted redacted = Redact(input, {"customers"}, index);
    ASSERT_FALSE(redacted.result.ok());
    EXPECT_EQ(redacted.result.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(redacted.result.status().message(),
                AllOf(HasSubstr("/srv/x.csv"), HasSubstr("not a text file")));
  }
}

TEST(RecordRedactorTest, EmptyFile) {
  const FingerprintIndex index = CustomersAndAccounts();
  const Redacted redacted = Redact("", {"customers"}, index);
  ASSERT_TRUE(redacted.result.ok()) << redacted.result.status();
  EXPECT_EQ(redacted.output, "");
  EXPECT_EQ(redacted.result->lines_read, 0u);
  EXPECT_EQ(redacted.result->lines_removed, 0u);
  EXPECT_EQ(redacted.result->bytes_written, 0u);
}

TEST(RecordRedactorTest, OverlongLineIsRefusedNamingIt) {
  const FingerprintIndex index = CustomersAndAccounts();
  // A line of exactly the limit passes; one byte more is refused.
  const std::string longest = std::string(kMaxRedactedLineBytes - 1, 'b') + "\n";
  const Redacted fits = Redact("a\n" + longest + "c\n", {"customers"}, index);
  ASSERT_TRUE(fits.result.ok()) << fits.result.status();
  EXPECT_EQ(fits.output.size(), kMaxRedactedLineBytes + 4);
  const Redacted refused = Redact("a\nb\nb" + longest, {"customers"}, index);
  ASSERT_FALSE(refused.result.ok());
  EXPECT_EQ(refused.result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.result.status().message(),
              AllOf(HasSubstr("/srv/x.csv"), HasSubstr("line 3 ")));
}

TEST(RecordRedactorTest, BadArgumentsAreRefused) {
  const FingerprintIndex index = CustomersAndAccounts();
  const Redacted unknown = Redact("x\n", {"custmers"}, index);
  EXPECT_EQ(unknown.result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.result.status().message(),
              AllOf(HasSubstr("/srv/x.csv"), HasSubstr("'custmers'")));

  common::UniqueFd source = TempFile("CUST-00000001\n");
  EXPECT_EQ(RedactRecords(source.get(), source.get(), index, {"customers"}, "s").status().code(),
            absl::StatusCode::kInvalidArgument);
  common::UniqueFd full = TempFile("old\n");
  EXPECT_EQ(RedactRecords(source.get(), full.get(), index, {"customers"}, "s").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadAll(source.get()), "CUST-00000001\n");
  EXPECT_EQ(ReadAll(full.get()), "old\n");
}

}  // namespace
}  // namespace offboard::agent
