// What `scan`, `wipe` (and later `run`) share to run discovery from the
// command line: loading the inventory and fingerprints into their indexes,
// and scanning with a progress line on a terminal (quiet when piped).
//
//   OFFBOARD_ASSIGN_OR_RETURN(DiscoveryInputs inputs, LoadDiscoveryInputs(inv, fingerprints));
//   OFFBOARD_ASSIGN_OR_RETURN(ScanReport report, RunDiscovery(inputs, scan_options));
//
// Call from one thread.
#ifndef OFFBOARD_AGENT_CLI_DISCOVERY_H_
#define OFFBOARD_AGENT_CLI_DISCOVERY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/scan/dataset_index.h"
#include "agent/scan/derived_matcher.h"
#include "agent/scan/finding.h"
#include "agent/scan/scanner.h"

namespace offboard::agent {

struct DiscoveryInputs {
  DatasetIndex index;
  FingerprintIndex fingerprints;
};

// Streams the inventory into the index (a million rows would take hundreds of
// MiB as records; the scanner needs only sizes, digests and datasets) and
// loads the fingerprint files of the inventory's datasets. Errors name the
// file and line.
absl::StatusOr<DiscoveryInputs> LoadDiscoveryInputs(const std::string& inventory,
                                                    const std::vector<std::string>& fingerprint_files);

// Scans with `options` (fingerprints from `inputs`), drawing progress on
// stderr when it is a terminal. Raises the descriptor limit first: every file
// queued for the examining threads keeps its directory open.
absl::StatusOr<ScanReport> RunDiscovery(const DiscoveryInputs& inputs, const ScanOptions& options);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_CLI_DISCOVERY_H_
