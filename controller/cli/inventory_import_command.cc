#include "controller/cli/inventory_import_command.h"

#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/inventory/fingerprint_set.h"
#include "common/inventory/inventory_csv.h"
#include "common/io/read_file.h"
#include "common/log/audit.h"
#include "common/status/status_macros.h"
#include "controller/cli/controller_home.h"

namespace offboard::controller {
namespace {

constexpr absl::string_view kProgram = "offboard-controller inventory import";
constexpr uint64_t kMaxFingerprintFileBytes = 1ull << 30;

struct ImportOptions {
  std::string data_dir;
  std::string inventory_csv;
  std::vector<std::string> fingerprint_files;
};

absl::StatusOr<ControllerStore::ImportCounts> Import(const ImportOptions& options) {
  // Everything is read and checked before the store is touched, and the store
  // takes it in one transaction: a bad line leaves nothing behind.
  std::vector<InventoryFileRow> files;
  std::set<std::string> datasets;
  OFFBOARD_RETURN_IF_ERROR(common::ForEachInventoryRecord(
      options.inventory_csv, [&](const common::InventoryRecord& record) {
        files.push_back({record.contract_id, record.vendor_id, record.dataset_id,
                         record.classification, record.path, record.size, record.sha256});
        datasets.insert(record.dataset_id);
        return absl::OkStatus();
      }));
  std::vector<FingerprintSetRow> fingerprints;
  for (const std::string& path : options.fingerprint_files) {
    OFFBOARD_ASSIGN_OR_RETURN(std::string text,
                              common::ReadFileToString(path, kMaxFingerprintFileBytes));
    OFFBOARD_ASSIGN_OR_RETURN(common::FingerprintSet set, common::ParseFingerprintSet(text, path));
    if (!datasets.contains(set.dataset_id)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": field 'dataset_id': '", set.dataset_id,
                                                     "' is not a dataset of ",
                                                     options.inventory_csv));
    }
    fingerprints.push_back({set.dataset_id, std::move(text)});
  }
  OFFBOARD_ASSIGN_OR_RETURN(ControllerHome home, OpenControllerHome(options.data_dir));
  OFFBOARD_ASSIGN_OR_RETURN(ControllerStore::ImportCounts counts,
                            home.store->ImportInventory(files, fingerprints));
  common::AuditEvent("inventory_imported", {{"source", options.inventory_csv},
                                            {"files_added", absl::StrCat(counts.files_added)},
                                            {"files_unchanged", absl::StrCat(counts.files_unchanged)},
                                            {"fingerprint_sets_added",
                                             absl::StrCat(counts.fingerprint_sets_added)}});
  return counts;
}

}  // namespace

void AddInventoryImportCommand(CLI::App& inventory, common::CommandAction& action) {
  CLI::App* sub = inventory.add_subcommand(
      "import",
      "Load the inventory CSV (and the datasets' fingerprint files) into the store in one "
      "transaction: a bad line fails the import with its line number and stores nothing; the "
      "same file again changes nothing.");
  auto options = std::make_shared<ImportOptions>();
  sub->add_option("--data-dir", options->data_dir, "the controller's data directory")->required();
  sub->add_option("inventory", options->inventory_csv, "the inventory CSV")->required();
  sub->add_option("--fingerprints", options->fingerprint_files,
                  "fingerprint JSON files of the inventory's datasets");
  sub->callback([&action, options] {
    action = [options] {
      absl::StatusOr<ControllerStore::ImportCounts> counts = Import(*options);
      if (!counts.ok()) return common::ReportError(kProgram, counts.status());
      std::cout << "files added: " << counts->files_added
                << ", unchanged: " << counts->files_unchanged
                << ", fingerprint sets added: " << counts->fingerprint_sets_added << "\n";
      return common::kExitDone;
    };
  });
}

}  // namespace offboard::controller
