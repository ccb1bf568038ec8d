#include "agent/scan/dataset_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace offboard::agent
