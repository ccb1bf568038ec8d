#include "common/evidence/evidence_report.h"

#include <algorithm>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/encoding/utf8.h"

namespace offboard::common {
namespace {

// The lists of all files and of the files not wiped stop here: a browser
// still opens the report at a million files, and reconciliation.csv has them all.
constexpr size_t kMaxRows = 10000;

// Text for HTML: bytes that are not UTF-8 become U+FFFD, control bytes
// become a visible \xNN (a newline must not hide in a cell), and the five
// characters that could open markup or end an attribute are escaped.
std::string Escape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t bad = FindInvalidUtf8(text);
    for (const char c : text.substr(0, bad)) {
      const auto byte = static_cast<unsigned char>(c);
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          if (byte < 0x20 || byte == 0x7f) {
            absl::StrAppendFormat(&out, "\\x%02x", byte);
          } else {
            out += c;
          }
      }
    }
    if (bad == absl::string_view::npos) break;
    out += "\xEF\xBF\xBD";
    text.remove_prefix(bad + 1);
  }
  return out;
}

std::string OrNone(absl::string_view text, absl::string_view none = "none") {
  return text.empty() ? absl::StrCat("<span class=\"none\">", none, "</span>") : Escape(text);
}

std::string Location(const std::string& path, const std::vector<std::string>& member) {
  return member.empty() ? path : absl::StrCat(path, "!", absl::StrJoin(member, "!"));
}

std::string AssuranceText(const std::optional<Assurance>& assurance) {
  return assurance ? AssuranceName(*assurance) : "none";
}

// One table row of already escaped cells.
void Row(std::string& out, std::initializer_list<std::string> cells, absl::string_view tag = "td") {
  out += "<tr>";
  for (const std::string& cell : cells) absl::StrAppend(&out, "<", tag, ">", cell, "</", tag, ">");
  out += "</tr>\n";
}

// A row of a definition table: label (ours, trusted) and escaped value.
void Field(std::string& out, absl::string_view label, std::string value_html) {
  absl::StrAppend(&out, "<tr><th>", label, "</th><td>", value_html, "</td></tr>\n");
}

std::string StateCell(FileState state) {
  return absl::StrCat("<span class=\"state state-", FileStateName(state), "\">",
                      FileStateName(state), "</span>");
}

std::string Sha256Cell(const std::string& sha256) {
  if (sha256.size() <= 16) return absl::StrCat("<span class=\"mono\">", OrNone(sha256), "</span>");
  return absl::StrCat("<span class=\"mono\" title=\"", Escape(sha256), "\">",
                      Escape(sha256.substr(0, 16)), "…</span>");
}

constexpr const char* kStyle = R"(
body{margin:0;background:#eef0f3;color:#1c1e21;font:15px/1.45 system-ui,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px}
.verdict{color:#fff;border-radius:12px;padding:26px 32px;margin-bottom:22px}
.verdict-verified_complete{background:#146c2e}
.verdict-incomplete{background:#9a5a00}
.verdict-discrepancy{background:#b3261e}
.kicker{margin:0;font-size:15px;text-transform:uppercase;letter-spacing:.08em;opacity:.9}
.verdict h1{margin:2px 0 6px;font-size:56px;line-height:1.05}
.gist{margin:0 0 16px;font-size:20px}
.verdict dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:0 0 12px;font-size:16px}
.verdict dt{opacity:.85}.verdict dd{margin:0;font-weight:600;word-break:break-all}
.reasons{margin:0;padding-left:24px;font-size:19px;font-weight:600}
section{background:#fff;border-radius:12px;padding:18px 24px;margin-bottom:20px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h2{margin:0 0 10px;font-size:24px}h3{margin:18px 0 8px;font-size:18px}
table{border-collapse:collapse;width:100%;font-size:14px;margin-bottom:8px}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid #dde0e5}
thead th{background:#f3f4f6}
table.fields th{width:290px;background:#f7f8fa}
#summary table{width:auto;min-width:520px}
.mono,pre,code{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
pre{background:#f3f4f6;padding:10px 12px;border-radius:6px;white-space:pre-wrap}
.state{font-weight:700}
.state-residual,.state-failed,.state-found_not_wiped,.bad{color:#b3261e}
.state-not_found{color:#9a5a00}.state-wiped{color:#146c2e}
.none{color:#666;font-style:italic}.more{color:#444;font-style:italic}
)";

void RenderBanner(const EvidenceReportInput& input, std::string& out) {
  const Reconciliation& r = input.reconciliation;
  static constexpr const char* kWords[] = {"Verified complete", "Incomplete", "Discrepancy"};
  static constexpr const char* kGists[] = {
      "Every inventory file is accounted for, and every copy found was destroyed.",
      "Nothing contradicts the deletion, but some files or orders are not accounted for yet.",
      "Copies of the bank's data remain, a wipe failed, or evidence was refused."};
  const int v = static_cast<int>(r.verdict);
  absl::StrAppend(&out, "<header class=\"verdict verdict-", VerdictName(r.verdict), "\">\n",
                  "<p class=\"kicker\">Offboard evidence report</p>\n<h1>", kWords[v],
                  "</h1>\n<p class=\"gist\">", kGists[v], "</p>\n<dl>\n");
  const auto entry = [&out](absl::string_view label, std::string html) {
    absl::StrAppend(&out, "<dt>", label, "</dt><dd>", html, "</dd>\n");
  };
  entry("Contract", OrNone(r.contract_id));
  entry("Vendor", OrNone(input.vendor_id));
  entry("Assurance floor", AssuranceText(r.assurance_floor));
  entry("Verdict", VerdictName(r.verdict));
  entry("Package exported at", OrNone(input.exported_at));
  out += "</dl>\n";
  if (!r.reasons.empty()) {
    out += "<ul class=\"reasons\">\n";
    for (const std::string& reason : r.reasons) {
      absl::StrAppend(&out, "<li>", Escape(reason), "</li>\n");
    }
    out += "</ul>\n";
  }
  out += "</header>\n";
}

void RenderDiscrepancies(const Reconciliation& r, std::string& out) {
  out += "<section id=\"discrepancies\">\n<h2>Discrepancies</h2>\n";
  absl::StrAppend(&out, "<h3>Unexpected copies left in place (", r.unexpected_left_in_place,
                  ")</h3>\n");
  if (r.unexpected_left_in_place == 0) {
    out += "<p class=\"none\">None.</p>\n";
  } else {
    out += "<table><thead>";
    Row(out, {"Host", "Order", "Path", "Match", "Status", "Assurance", "Reason"}, "th");
    out += "</thead><tbody>\n";
    for (const UnexpectedCopy& copy : r.unexpected) {
      if (!copy.left_in_place()) continue;
      Row(out, {Escape(copy.host_id), Escape(copy.order_id),
                absl::StrCat("<span class=\"mono\">", Escape(Location(copy.path, copy.member)),
                             "</span>"),
                Escape(copy.match),
                absl::StrCat("<span class=\"bad\">", CopyStatusName(copy.status), "</span>"),
                AssuranceText(copy.assurance), Escape(copy.reason)});
    }
    out += "</tbody></table>\n";
  }
  const uint64_t not_wiped = r.count(FileState::kResidual) + r.count(FileState::kFailed) +
                             r.count(FileState::kFoundNotWiped) + r.count(FileState::kNotFound);
  absl::StrAppend(&out, "<h3>Inventory files not wiped (", not_wiped, ")</h3>\n");
  if (not_wiped == 0) {
    out += "<p class=\"none\">None.</p>\n";
  } else {
    out += "<table><thead>";
    Row(out, {"State", "Path", "Dataset", "SHA-256", "Copies"}, "th");
    out += "</thead><tbody>\n";
    size_t shown = 0;
    for (FileState state : {FileState::kResidual, FileState::kFailed, FileState::kFoundNotWiped,
                            FileState::kNotFound}) {
      for (const FileResult& file : r.files) {
        if (file.state != state || shown >= kMaxRows) continue;
        ++shown;
        Row(out,
            {StateCell(state), absl::StrCat("<span class=\"mono\">", Escape(file.path), "</span>"),
             Escape(file.dataset_id), Sha256Cell(file.sha256), absl::StrCat(file.copies)});
      }
    }
    out += "</tbody></table>\n";
    if (not_wiped > shown) {
      absl::StrAppend(&out, "<p class=\"more\">", not_wiped - shown,
                      " more files not wiped in reconciliation.csv</p>\n");
    }
  }
  if (!r.unanswered_orders.empty()) {
    out += "<h3>Orders not answered</h3>\n<ul>\n";
    for (const std::string& order : r.unanswered_orders) {
      const bool overdue = std::find(r.overdue_orders.begin(), r.overdue_orders.end(), order) !=
                           r.overdue_orders.end();
      absl::StrAppend(&out, "<li class=\"mono\">", Escape(order), overdue ? " (overdue)" : "",
                      "</li>\n");
    }
    out += "</ul>\n";
  }
  if (!r.superseded_orders.empty()) {
    out += "<h3>Orders superseded by a later answered one</h3>\n<ul>\n";
    for (const std::string& order : r.superseded_orders) {
      absl::StrAppend(&out, "<li class=\"mono\">", Escape(order), "</li>\n");
    }
    out += "</ul>\n";
  }
  if (!r.hosts_without_order.empty()) {
    out += "<h3>Enrolled hosts without an order</h3>\n<ul>\n";
    for (const HostRef& host : r.hosts_without_order) {
      absl::StrAppend(&out, "<li><span class=\"mono\">", Escape(host.host_id), "</span> (vendor ",
                      Escape(host.vendor_id), ")</li>\n");
    }
    out += "</ul>\n";
  }
  out += "</section>\n";
}

void RenderSummary(const Reconciliation& r, std::string& out) {
  out += "<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"fields\">\n";
  Field(out, "Inventory files", absl::StrCat(r.files.size()));
  for (FileState state : {FileState::kWiped, FileState::kSelfAttested, FileState::kNotFound,
                          FileState::kFoundNotWiped, FileState::kFailed, FileState::kResidual}) {
    Field(out, StateCell(state), absl::StrCat(r.count(state)));
  }
  Field(out, "Unexpected copies", absl::StrCat(r.unexpected.size()));
  Field(out, "Unexpected copies left in place", absl::StrCat(r.unexpected_left_in_place));
  if (r.unexamined_after_wipe > 0) {
    Field(out, "Places not examined by the scan after the wipe",
          absl::StrCat(r.unexamined_after_wipe));
  }
  Field(out, "Attestations accepted / refused / self",
        absl::StrCat(r.accepted_attestations, " / ", r.refused_attestations, " / ",
                     r.self_attestations));
  out += "</table>\n</section>\n";
}

void RenderCertificate(const EvidenceReportInput& input, const HostCertificate& c,
                       std::string& out) {
  absl::StrAppend(&out, "<h3>Host ", OrNone(c.host.hostname, "(no hostname)"),
                  " <span class=\"mono\">", Escape(c.host.host_id),
                  "</span></h3>\n<table class=\"fields\">\n");
  Field(out, "Organization", OrNone(input.organization, "not configured"));
  const std::string agent = absl::StrCat("vendor agent ", c.host.agent_id);
  Field(out, "Person performing sanitization",
        input.officer.empty()
            ? absl::StrCat(Escape(agent), " (automated; no person named)")
            : absl::StrCat(Escape(input.officer),
                           " (officer who exported the evidence); performed by ", Escape(agent)));
  Field(out, "Vendor", OrNone(c.host.vendor_id));
  Field(out, "Host",
        absl::StrCat(OrNone(c.host.hostname, "(no hostname)"), "; machine id ",
                     OrNone(c.machine_id, "unknown"), "; kernel ", OrNone(c.kernel, "unknown")));
  Field(out, "Media type", OrNone(absl::StrJoin(c.storage, "; "), "not recorded"));
  Field(out, "Sanitization method type", Escape(c.method_type));
  Field(out, "Method used", OrNone(c.method));
  Field(out, "Tool used (and version)", OrNone(c.tool, "no attestation"));
  Field(out, "Verification method", Escape(c.verification));
  Field(out, "Post-sanitization destination", "n/a (files on a vendor host)");
  Field(out, "Assurance reached",
        c.assurance ? AssuranceName(*c.assurance) : "none (nothing wiped)");
  Field(out, "Items", absl::StrCat(c.items_wiped, " wiped, ", c.items_not_wiped, " not wiped"));
  Field(out, "Date started", OrNone(c.started_at));
  Field(out, "Date finished", OrNone(c.finished_at));
  Field(out, "Policy", OrNone(absl::StrJoin(c.policy_names, ", ")));
  Field(out, "Agent key id",
        absl::StrCat("<span class=\"mono\">", OrNone(c.host.agent_key_id), "</span>"));
  Field(out, "Orders answered", OrNone(absl::StrJoin(c.order_ids, ", ")));
  Field(out, "Transparency log indexes", OrNone(absl::StrJoin(c.log_indexes, ", ")));
  out += "</table>\n";
}

void RenderFiles(const Reconciliation& r, std::string& out) {
  absl::StrAppend(&out, "<section id=\"files\">\n<h2>All inventory files (", r.files.size(),
                  ")</h2>\n<table><thead>");
  Row(out, {"#", "Path", "Dataset", "SHA-256", "State", "Copies", "Assurance"}, "th");
  out += "</thead><tbody>\n";
  const size_t shown = std::min(r.files.size(), kMaxRows);
  for (size_t i = 0; i < shown; ++i) {
    const FileResult& file = r.files[i];
    Row(out,
        {absl::StrCat(i + 1), absl::StrCat("<span class=\"mono\">", Escape(file.path), "</span>"),
         Escape(file.dataset_id), Sha256Cell(file.sha256), StateCell(file.state),
         absl::StrCat(file.copies), file.assurance ? AssuranceName(*file.assurance) : ""});
  }
  out += "</tbody></table>\n";
  if (r.files.size() > shown) {
    absl::StrAppend(&out, "<p class=\"more\">", r.files.size() - shown,
                    " more files in reconciliation.csv</p>\n");
  }
  out += "</section>\n";
}

void RenderHowToVerify(const EvidenceReportInput& input, std::string& out) {
  out +=
      "<section id=\"verify\">\n<h2>How to verify this package</h2>\n"
      "<p>Offline, without trusting this page: <code>offboard-verify</code> checks every "
      "signature, digest and transparency log proof in the package and recomputes the verdict "
      "from the raw attestations and the inventory. It exits 0 only if everything holds.</p>\n"
      "<pre>offboard-verify PKG.tar.gz --controller-key controller.pub.pem</pre>\n"
      "<p><code>PKG.tar.gz</code> is this evidence package; <code>controller.pub.pem</code> is "
      "the controller's public key, obtained from the bank and not from the package. Its key id "
      "must be the one below.</p>\n"
      "<table class=\"fields\">\n";
  Field(out, "Controller key id",
        absl::StrCat("<span class=\"mono\">", OrNone(input.controller_key_id), "</span>"));
  Field(out, "Controller version", OrNone(input.controller_version));
  Field(out, "Log tree size", absl::StrCat(input.log_tree_size));
  Field(out, "Log root",
        absl::StrCat("<span class=\"mono\">", OrNone(input.log_root_hex), "</span>"));
  out += "</table>\n</section>\n";
}

}  // namespace

std::string RenderEvidenceReport(const EvidenceReportInput& input) {
  const Reconciliation& r = input.reconciliation;
  std::string out;
  out.reserve(16384 + 400 * std::min(r.files.size(), kMaxRows));
  absl::StrAppend(&out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
                  "<title>", VerdictName(r.verdict), " — Offboard evidence report, contract ",
                  Escape(r.contract_id), "</title>\n<style>", kStyle,
                  "</style>\n</head>\n<body>\n<main>\n");
  RenderBanner(input, out);
  RenderDiscrepancies(r, out);
  RenderSummary(r, out);
  absl::StrAppend(&out, "<section id=\"certificates\">\n<h2>Certificates of sanitization (",
                  input.certificates.size(),
                  ")</h2>\n<p>After NIST SP 800-88 Rev. 1, Appendix G: "
                  "one per vendor host, from the attestations its agent signed.</p>\n");
  if (input.certificates.empty()) out += "<p class=\"none\">No enrolled host.</p>\n";
  for (const HostCertificate& certificate : input.certificates) {
    RenderCertificate(input, certificate, out);
  }
  out += "</section>\n";
  RenderFiles(r, out);
  RenderHowToVerify(input, out);
  absl::StrAppend(&out, "<footer><p class=\"more\">Generated by offboard-controller ",
                  Escape(input.controller_version), " from the package exported at ",
                  Escape(input.exported_at), ".</p></footer>\n</main>\n</body>\n</html>\n");
  return out;
}

std::string RenderPackageReport(const Reconciliation& reconciliation, const Manifest& manifest,
                                uint64_t log_tree_size, const std::string& log_root_hex,
                                std::vector<HostCertificate> certificates) {
  return RenderEvidenceReport({.reconciliation = reconciliation,
                               .vendor_id = manifest.vendor_id,
                               .exported_at = UnixToRfc3339(manifest.exported_at),
                               .organization = manifest.organization,
                               .officer = manifest.officer,
                               .controller_key_id = manifest.controller_key_id,
                               .controller_version = manifest.controller_version,
                               .log_tree_size = log_tree_size,
                               .log_root_hex = log_root_hex,
                               .certificates = std::move(certificates)});
}

}  // namespace offboard::common
