// Renders a Reconciliation three ways: the JSON of `status --json`
// (INTERFACE.md), a table for a person, and CSV for evidence packages.
//
//   Reconciliation r = std::move(reconciler).Finish();
//   WriteReconciliationJson(r, std::cout);     // streams; a million files stay cheap
//   std::cout << ReconciliationTable(r);       // verdict and its reasons first
//
// JSON keys, in this order: "contract_id", "verdict", "assurance_floor" (the
// fixed ones), "reasons", "summary" ({"files", one count per state,
// "unexpected_copies", "unexpected_left_in_place", and "unexamined_after_wipe"
// when not zero}), "unanswered_orders", "overdue_orders", "superseded_orders"
// (when not empty), "hosts_without_order" ([{"vendor_id", "host_id"}], when
// not empty),
// "accepted_attestations", "refused_attestations",
// "self_attestations", "unexpected_copies" ([{"host_id", "order_id", "path",
// "member", "dataset_id", "sha256", "match", "status", "assurance", "reason",
// "left_in_place"}]), "files" ([{"dataset_id", "sha256", "state", "copies"}
// as fixed, plus "path" and "assurance"]).
//
// Pure functions: thread-safe for distinct or unchanging inputs.
#ifndef OFFBOARD_COMMON_RECONCILE_RECONCILIATION_REPORT_H_
#define OFFBOARD_COMMON_RECONCILE_RECONCILIATION_REPORT_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "common/reconcile/reconciliation.h"

namespace offboard::common {

// The whole document as one JSON value. Dump it with
// nlohmann::json::error_handler_t::replace: names are not always UTF-8.
nlohmann::ordered_json ReconciliationToJson(const Reconciliation& reconciliation);

// Writes the same document, compact, without holding it in memory as JSON
// (byte for byte ReconciliationToJson(r).dump(-1, ' ', false, replace)),
// then a newline.
void WriteReconciliationJson(const Reconciliation& reconciliation, std::ostream& out);

// For a person: the verdict and why on the first lines, assurance floor,
// attestations and open orders, the count per state, the unexpected copies,
// then the files not wiped, most serious first. At most `max_rows` rows per
// list, then a line saying how many more. Control characters in names are
// shown as \xNN so that a name cannot forge a row.
std::string ReconciliationTable(const Reconciliation& reconciliation, size_t max_rows = 50);

// RFC 4180 CSV (CRLF line ends), header
// "dataset_id,sha256,path,state,copies,assurance", one row per inventory file
// in inventory order; a field holding a comma, quote, CR or LF is quoted with
// quotes doubled. assurance is empty when the file has none.
void WriteReconciliationCsv(const Reconciliation& reconciliation, std::ostream& out);
std::string ReconciliationCsv(const Reconciliation& reconciliation);

}  // namespace offboard::common

#endif  // OFFBOARD_COMMON_RECONCILE_RECONCILIATION_REPORT_H_
