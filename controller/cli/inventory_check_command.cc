#include "controller/cli/inventory_check_command.h"

#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/inventory/fingerprint_set.h"
#include "common/inventory/inventory_csv.h"

namespace offboard::controller {
namespace {

constexpr absl::string_view kProgram = "offboard-controller inventory check";

struct InventoryCheckOptions {
  std::string inventory_csv;
  std::vector<std::string> fingerprint_files;
};

int InventoryCheck(const InventoryCheckOptions& options) {
  std::set<std::string> contracts, vendors, datasets;
  uint64_t files = 0;
  uint64_t total_bytes = 0;
  // Streamed: only the summary is needed, not a million records in memory.
  const absl::Status read = common::ForEachInventoryRecord(
      options.inventory_csv, [&](const common::InventoryRecord& record) {
        contracts.insert(record.contract_id);
        vendors.insert(record.vendor_id);
        datasets.insert(record.dataset_id);
        ++files;
        total_bytes += record.size;
        return absl::OkStatus();
      });
  if (!read.ok()) return common::ReportError(kProgram, read);

  absl::StatusOr<std::vector<common::FingerprintSet>> sets = common::ReadFingerprintSetsFor(
      [&datasets](absl::string_view dataset_id) {
        return datasets.contains(std::string(dataset_id));
      },
      options.inventory_csv, options.fingerprint_files);
  if (!sets.ok()) return common::ReportError(kProgram, sets.status());
  size_t digests = 0;
  for (const common::FingerprintSet& set : *sets) digests += set.digests.size();
  std::cout << options.inventory_csv << ": valid\n"
            << "files: " << files << "\n"
            << "bytes: " << total_bytes << "\n"
            << "contracts: " << contracts.size() << "\n"
            << "vendors: " << vendors.size() << "\n"
            << "datasets: " << datasets.size() << "\n"
            << "fingerprint_files: " << options.fingerprint_files.size() << "\n"
            << "fingerprint_digests: " << digests << "\n";
  return common::kExitDone;
}

}  // namespace

void AddInventoryCheckCommand(CLI::App& inventory, common::CommandAction& action) {
  CLI::App* sub = inventory.add_subcommand(
      "check",
      "Validate an inventory CSV (header contract_id,vendor_id,dataset_id,classification,"
      "path,size,sha256) and fingerprint files; print a summary. Changes nothing. "
      "Exit 2 with the file, line and field of the first error.");
  auto options = std::make_shared<InventoryCheckOptions>();
  sub->add_option("INVENTORY_CSV", options->inventory_csv, "the inventory file")->required();
  sub->add_option("--fingerprints", options->fingerprint_files,
                  "fingerprint JSON files, one per dataset");
  sub->callback([&action, options] { action = [options] { return InventoryCheck(*options); }; });
}

}  // namespace offboard::controller
