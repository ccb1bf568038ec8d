#include "agent/scan/dataset_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace offboard::agent {
namespace {

common::InventoryRecord Record(std::string dataset, std::string_view content) {
  return common::InventoryRecord{
      .contract_id = "C",
      .vendor_id = "V",
      .dataset_id = std::move(dataset),
      .classification = "confidential",
      .path = "p",
      .size = content.size(),
      .sha256 =
          common::DigestHex(common::Sha256Of(absl::string_view(content.data(), content.size()))),
      .line = 2};
}

TEST(DatasetIndexTest, AnswersBySizeThenDigest) {
  common::Inventory inventory;
  inventory.records = {Record("customers", "hello"), Record("accounts", "hello"),
                       Record("accounts", "hello"), Record("loans", "other content")};
  const DatasetIndex index = *DatasetIndex::Build(inventory);
  EXPECT_EQ(index.file_count(), 3u);  // the duplicate row collapses
  EXPECT_TRUE(index.IsCandidateSize(5));
  EXPECT_TRUE(index.IsCandidateSize(13));
  EXPECT_FALSE(index.IsCandidateSize(6));
  EXPECT_THAT(index.DatasetsFor(5, common::Sha256Of(absl::string_view("hello"))),
              ::testing::ElementsAre("accounts", "customers"));
  // Same size, other content: a decoy.
  EXPECT_THAT(index.DatasetsFor(5, common::Sha256Of(absl::string_view("HELLO"))),
              ::testing::IsEmpty());
  EXPECT_TRUE(index.HasDataset("loans"));
  EXPECT_FALSE(index.HasDataset("loan"));
}

TEST(DatasetIndexTest, EmptyInventoryMatchesNothing) {
  const DatasetIndex index = *DatasetIndex::Build(common::Inventory{});
  EXPECT_FALSE(index.IsCandidateSize(0));
  EXPECT_FALSE(index.HasDataset(""));
}

TEST(DatasetIndexTest, BuildsFromStreamedRecords) {
  std::string text = "contract_id,vendor_id,dataset_id,classification,path,size,sha256\n";
  for (const auto& [dataset, path, content] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"zeta", "/a", "hello"},
           {"alpha", "/b", "hello"},
           {"zeta", "/c", "hello"},  // same size, digest and dataset as /a
           {"mid", "/d", "other content"}}) {
    absl::StrAppend(&text, "C,V,", dataset, ",x,", path, ",", content.size(), ",",
                    common::DigestHex(common::Sha256Of(content)), "\n");
  }
  DatasetIndex::Builder builder;
  ASSERT_TRUE(
      common::ForEachInventoryRecord(text, "inv.csv", [&](const common::InventoryRecord& record) {
        builder.Add(record);
        return absl::OkStatus();
      }).ok());
  const DatasetIndex index = *std::move(builder).Finish();
  EXPECT_EQ(index.file_count(), 3u);
  EXPECT_TRUE(index.IsCandidateSize(5));
  EXPECT_TRUE(index.IsCandidateSize(13));
  EXPECT_FALSE(index.IsCandidateSize(0));
  // Listed in id order, whatever order the inventory named them in.
  EXPECT_THAT(index.DatasetsFor(5, common::Sha256Of(absl::string_view("hello"))),
              ::testing::ElementsAre("alpha", "zeta"));
  EXPECT_THAT(index.DatasetsFor(13, common::Sha256Of(absl::string_view("other content"))),
              ::testing::ElementsAre("mid"));
  EXPECT_TRUE(index.HasDataset("mid"));
  EXPECT_FALSE(index.HasDataset("beta"));
}

}  // namespace
}  // namespace offboard::agent
