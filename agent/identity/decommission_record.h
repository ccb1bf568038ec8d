// Whether an agent's data directory was decommissioned: after its contract's
// final receipt the agent told the controller, which banned its identity, and
// destroyed its private keys (agent/service/decommission.h). Such a directory
// must never serve again — no run, no enrollment, no new key — so every entry
// point checks here first.
//
//   DIR/decommission-pending.json  the controller answered; keys being destroyed
//   DIR/decommissioned.json        {agent_id, vendor_id, host_id,
//                                   decommissioned_at, banned_at_controller, ...}
//
//   OFFBOARD_RETURN_IF_ERROR(CheckNotDecommissioned(data_dir));
//
// Thread-safe: reads files only.
#ifndef OFFBOARD_AGENT_IDENTITY_DECOMMISSION_RECORD_H_
#define OFFBOARD_AGENT_IDENTITY_DECOMMISSION_RECORD_H_

#include <boost/filesystem/path.hpp>

#include "absl/status/status.h"

namespace offboard::agent {

boost::filesystem::path DecommissionRecordPath(const boost::filesystem::path& data_dir);
boost::filesystem::path DecommissionPendingPath(const boost::filesystem::path& data_dir);

// FAILED_PRECONDITION, saying when and naming the record, when `data_dir` was
// decommissioned or its decommissioning began; OK otherwise.
absl::Status CheckNotDecommissioned(const boost::filesystem::path& data_dir);

}  // namespace offboard::agent

#endif  // OFFBOARD_AGENT_IDENTITY_DECOMMISSION_RECORD_H_
