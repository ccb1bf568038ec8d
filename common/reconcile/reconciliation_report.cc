#include "common/reconcile/reconciliation_report.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/encoding/csv.h"

namespace offboard::common {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr FileState kSeverityOrder[] = {FileState::kResidual,      FileState::kFailed,
                                        FileState::kFoundNotWiped, FileState::kWiped,
                                        FileState::kSelfAttested,  FileState::kNotFound};
// The files the table lists: everything but wiped, most serious first.
constexpr FileState kListedStates[] = {FileState::kResidual, FileState::kFailed,
                                       FileState::kFoundNotWiped, FileState::kNotFound,
                                       FileState::kSelfAttested};

std::string Dump(const OrderedJson& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

OrderedJson OptionalAssurance(const std::optional<Assurance>& assurance) {
  return assurance ? OrderedJson(AssuranceName(*assurance)) : OrderedJson(nullptr);
}

OrderedJson FileJson(const FileResult& file) {
  return {{"dataset_id", file.dataset_id},
          {"sha256", file.sha256},
          {"state", FileStateName(file.state)},
          {"copies", file.copies},
          {"path", file.path},
          {"assurance", OptionalAssurance(file.assurance)}};
}

// A JSON string as Dump() would write it, without building a JSON value for
// the common case of printable ASCII with nothing to escape.
void WriteJsonString(std::ostream& out, absl::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    out << '"' << text << '"';
  } else {
    out << Dump(OrderedJson(std::string(text)));
  }
}

// FileJson(file), dumped, written straight to `out`.
void WriteFileJson(std::ostream& out, const FileResult& file) {
  out << "{\"dataset_id\":";
  WriteJsonString(out, file.dataset_id);
  out << ",\"sha256\":";
  WriteJsonString(out, file.sha256);
  out << ",\"state\":\"" << FileStateName(file.state) << "\",\"copies\":" << file.copies
      << ",\"path\":";
  WriteJsonString(out, file.path);
  out << ",\"assurance\":";
  if (file.assurance) {
    out << '"' << AssuranceName(*file.assurance) << '"';
  } else {
    out << "null";
  }
  out << '}';
}

OrderedJson UnexpectedJson(const UnexpectedCopy& copy) {
  return {{"host_id", copy.host_id},
          {"order_id", copy.order_id},
          {"path", copy.path},
          {"member", copy.member},
          {"dataset_id", copy.dataset_id},
          {"sha256", copy.sha256},
          {"match", copy.match},
          {"status", CopyStatusName(copy.status)},
          {"assurance", OptionalAssurance(copy.assurance)},
          {"reason", copy.reason},
          {"left_in_place", copy.left_in_place()}};
}

// Everything but the two long lists.
OrderedJson HeaderJson(const Reconciliation& r) {
  OrderedJson json;
  json["contract_id"] = r.contract_id;
  json["verdict"] = VerdictName(r.verdict);
  json["assurance_floor"] = OptionalAssurance(r.assurance_floor);
  json["reasons"] = r.reasons;
  OrderedJson summary;
  summary["files"] = r.files.size();
  for (FileState state : kSeverityOrder) summary[FileStateName(state)] = r.count(state);
  summary["unexpected_copies"] = r.unexpected.size();
  summary["unexpected_left_in_place"] = r.unexpected_left_in_place;
  // Only when there are any, so that packages exported before the count was
  // kept recompute byte for byte.
  if (r.unexamined_after_wipe > 0) summary["unexamined_after_wipe"] = r.unexamined_after_wipe;
  json["summary"] = std::move(summary);
  json["unanswered_orders"] = r.unanswered_orders;
  json["overdue_orders"] = r.overdue_orders;
  // Only when there are any, as above.
  if (!r.superseded_orders.empty()) json["superseded_orders"] = r.superseded_orders;
  if (!r.hosts_without_order.empty()) {
    OrderedJson hosts = OrderedJson::array();
    for (const HostRef& host : r.hosts_without_order) {
      OrderedJson entry;
      entry["vendor_id"] = host.vendor_id;
      entry["host_id"] = host.host_id;
      hosts.push_back(std::move(entry));
    }
    json["hosts_without_order"] = std::move(hosts);
  }
  json["accepted_attestations"] = r.accepted_attestations;
  json["refused_attestations"] = r.refused_attestations;
  json["self_attestations"] = r.self_attestations;
  return json;
}

// Control bytes as \xNN; everything else, UTF-8 included, unchanged.
std::string Printable(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '\\') {
      absl::StrAppendFormat(&out, "\\x%02x", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Left-aligned columns two spaces apart; the last column is not padded.
std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    out += "  ";
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(width[i] - row[i].size() + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

std::string Location(const UnexpectedCopy& copy) {
  return copy.member.empty() ? copy.path
                             : absl::StrCat(copy.path, "!", absl::StrJoin(copy.member, "!"));
}

}  // namespace

nlohmann::ordered_json ReconciliationToJson(const Reconciliation& r) {
  OrderedJson json = HeaderJson(r);
  OrderedJson unexpected = OrderedJson::array();
  for (const UnexpectedCopy& copy : r.unexpected) unexpected.push_back(UnexpectedJson(copy));
  json["unexpected_copies"] = std::move(unexpected);
  OrderedJson files = OrderedJson::array();
  for (const FileResult& file : r.files) files.push_back(FileJson(file));
  json["files"] = std::move(files);
  return json;
}

void WriteReconciliationJson(const Reconciliation& r, std::ostream& out) {
  std::string header = Dump(HeaderJson(r));
  header.pop_back();  // the closing brace: the lists follow
  out << header << ",\"unexpected_copies\":[";
  for (size_t i = 0; i < r.unexpected.size(); ++i) {
    if (i > 0) out << ',';
    out << Dump(UnexpectedJson(r.unexpected[i]));
  }
  out << "],\"files\":[";
  for (size_t i = 0; i < r.files.size(); ++i) {
    if (i > 0) out << ',';
    WriteFileJson(out, r.files[i]);
  }
  out << "]}\n";
}

std::string ReconciliationTable(const Reconciliation& r, size_t max_rows) {
  std::string out = absl::StrCat("Verdict: ", VerdictName(r.verdict), " (contract ",
                                 Printable(r.contract_id), ")\n");
  for (const std::string& reason : r.reasons) absl::StrAppend(&out, "  - ", reason, "\n");
  absl::StrAppend(&out, "Assurance floor: ",
                  r.assurance_floor ? AssuranceName(*r.assurance_floor) : "none", "\n");
  absl::StrAppend(&out, "Attestations: ", r.accepted_runs, " accepted",
                  r.accepted_runs != r.accepted_attestations
                      ? absl::StrCat(" (in ", r.accepted_attestations, " signed parts)")
                      : "",
                  ", ", r.refused_attestations,
                  " refused; self-attestations: ", r.self_attestations, "\n");
  if (!r.unanswered_orders.empty()) {
    std::vector<std::string> orders;
    for (const std::string& order : r.unanswered_orders) {
      const bool overdue = std::find(r.overdue_orders.begin(), r.overdue_orders.end(), order) !=
                           r.overdue_orders.end();
      orders.push_back(absl::StrCat(Printable(order), overdue ? " (overdue)" : ""));
    }
    const size_t shown = std::min(orders.size(), max_rows);
    absl::StrAppend(
        &out, "Unanswered orders: ",
        absl::StrJoin(orders.begin(), orders.begin() + static_cast<ptrdiff_t>(shown), ", "),
        shown < orders.size() ? absl::StrCat(", and ", orders.size() - shown, " more") : "", "\n");
  }

  if (!r.superseded_orders.empty()) {
    const size_t shown = std::min(r.superseded_orders.size(), max_rows);
    std::vector<std::string> orders;
    for (size_t i = 0; i < shown; ++i) orders.push_back(Printable(r.superseded_orders[i]));
    absl::StrAppend(&out,
                    "Orders superseded by a later answered one: ", absl::StrJoin(orders, ", "),
                    shown < r.superseded_orders.size()
                        ? absl::StrCat(", and ", r.superseded_orders.size() - shown, " more")
                        : "",
                    "\n");
  }
  if (!r.hosts_without_order.empty()) {
    std::vector<std::string> hosts;
    for (size_t i = 0; i < r.hosts_without_order.size() && i < max_rows; ++i) {
      const HostRef& host = r.hosts_without_order[i];
      hosts.push_back(absl::StrCat(Printable(host.host_id), " (", Printable(host.vendor_id), ")"));
    }
    absl::StrAppend(
        &out, "Enrolled hosts without an order (run terminate again): ", absl::StrJoin(hosts, ", "),
        hosts.size() < r.hosts_without_order.size()
            ? absl::StrCat(", and ", r.hosts_without_order.size() - hosts.size(), " more")
            : "",
        "\n");
  }

  absl::StrAppend(&out, "\nFiles: ", r.files.size(), "\n");
  std::vector<std::vector<std::string>> counts;
  for (FileState state : kSeverityOrder) {
    counts.push_back({FileStateName(state), absl::StrCat(r.count(state))});
  }
  out += Columns(counts);

  if (!r.unexpected.empty()) {
    absl::StrAppend(&out, "\nUnexpected copies: ", r.unexpected.size(), " (",
                    r.unexpected_left_in_place, " left in place)\n");
    std::vector<std::vector<std::string>> rows = {{"STATUS", "MATCH", "HOST", "DATASET", "PATH"}};
    for (size_t i = 0; i < r.unexpected.size() && i < max_rows; ++i) {
      const UnexpectedCopy& copy = r.unexpected[i];
      rows.push_back({CopyStatusName(copy.status), Printable(copy.match), Printable(copy.host_id),
                      Printable(copy.dataset_id), Printable(Location(copy))});
    }
    out += Columns(rows);
    if (r.unexpected.size() > max_rows) {
      absl::StrAppend(&out, "  ... and ", r.unexpected.size() - max_rows, " more (see --json)\n");
    }
  }

  const uint64_t not_wiped = r.files.size() - r.count(FileState::kWiped);
  if (not_wiped > 0) {
    absl::StrAppend(&out, "\nFiles not wiped: ", not_wiped, "\n");
    std::vector<std::vector<std::string>> rows = {{"STATE", "COPIES", "DATASET", "SHA256", "PATH"}};
    for (FileState state : kListedStates) {
      if (r.count(state) == 0) continue;
      for (const FileResult& file : r.files) {
        if (rows.size() > max_rows) break;
        if (file.state != state) continue;
        rows.push_back({FileStateName(state), absl::StrCat(file.copies), Printable(file.dataset_id),
                        file.sha256.substr(0, 12), Printable(file.path)});
      }
    }
    out += Columns(rows);
    if (not_wiped > rows.size() - 1) {
      absl::StrAppend(&out, "  ... and ", not_wiped - (rows.size() - 1), " more (see --json)\n");
    }
  }
  return out;
}

void WriteReconciliationCsv(const Reconciliation& r, std::ostream& out) {
  out << "dataset_id,sha256,path,state,copies,assurance\r\n";
  for (const FileResult& file : r.files) {
    out << CsvField(file.dataset_id) << ',' << CsvField(file.sha256) << ',' << CsvField(file.path)
        << ',' << FileStateName(file.state) << ',' << file.copies << ','
        << (file.assurance ? AssuranceName(*file.assurance) : "") << "\r\n";
  }
}

std::string ReconciliationCsv(const Reconciliation& r) {
  std::ostringstream out;
  WriteReconciliationCsv(r, out);
  return std::move(out).str();
}

}  // namespace offboard::common
