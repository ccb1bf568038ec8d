#include "common/evidence/evidence_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/encoding/utf8.h"

namespace offboard::common {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using Json = nlohmann::json;

std::string Sha(char c) { return std::string(64, c); }

Json Storage(const std::string& fs_type, const std::string& device, bool rotational) {
  return {{"fs_type", fs_type},
          {"fs_magic", 61267},
          {"device", device},
          {"mount_point", "/srv"},
          {"rotational", rotational},
          {"discard", nullptr},
          {"mount_options", "rw rw"},
          {"data_journal", false},
          {"shared_extents", false},
          {"extents_mapped", true},
          {"note", ""}};
}

// An item of a deletion predicate, as agent/wipe/wipe_report_json.cc writes it.
Json Item(const std::string& status, const Json& assurance,
          const std::vector<std::string>& patterns = {"zeros", "random"},
          const std::string& verify_method = "direct_io",
          const Json& storage = Storage("ext4", "/dev/vda1", false)) {
  Json passes = Json::array();
  for (const std::string& pattern : patterns) {
    passes.push_back({{"pattern", pattern}, {"verified", true}, {"verify_method", verify_method}});
  }
  return {{"path", "/srv/data.csv"},   {"member", Json::array()},
          {"dataset_id", "ds"},        {"sha256", Sha('a')},
          {"match", "exact"},          {"status", status},
          {"assurance", assurance},    {"method", status == "wiped" ? "overwrite" : "none"},
          {"passes", passes},          {"renames", 3},
          {"bytes_overwritten", 4096}, {"link_count", 1},
          {"storage", storage},        {"reason", ""}};
}

Json Predicate(const std::string& order_id, const std::string& started, const std::string& finished,
               Json items, const std::string& version = "0.1.0") {
  return {{"run_id", "run-" + order_id},
          {"order_id", order_id},
          {"nonce", "00"},
          {"standalone", order_id.empty()},
          {"started_at", started},
          {"finished_at", finished},
          {"roots", {"/srv"}},
          {"agent", {{"version", version}, {"key_id", Sha('k')}}},
          {"host", {{"hostname", "db-1"}, {"machine_id", "m-1"}, {"kernel", "6.1.0"}}},
          {"policy", {{"name", "nist-clear"}, {"passes", Json::array()}}},
          {"items", std::move(items)},
          {"summary", Json::object()},
          {"post_wipe_scan", Json::object()}};
}

EvidenceHost Host(const std::string& n) {
  return {.agent_id = "agent-" + n,
          .vendor_id = "acme",
          .host_id = "host-" + n,
          .hostname = "",
          .agent_key_id = Sha('k')};
}

TEST(HostCertificateBuilderTest, FoldsAttestationsPerHost) {
  HostCertificateBuilder builder;
  builder.AddHost(Host("a"));
  builder.AddHost(Host("b"));
  // Added out of log order: orders and indexes still come out in log order.
  ASSERT_TRUE(builder
                  .AddAttestation("agent-a", 9,
                                  Predicate("o-2", "2024-05-02T10:00:00Z", "2024-05-02T11:00:00Z",
                                            {Item("wiped", "overwrite_flash", {"zeros"}),
                                             Item("failed", nullptr, {})}))
                  .ok());
  ASSERT_TRUE(builder
                  .AddAttestation(
                      "agent-a", 4,
                      Predicate("o-1", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z",
                                {Item("wiped", "overwrite_verified"),
                                 Item("needs_review", nullptr, {}), Item("skipped", nullptr, {})},
                                "0.2.0"))
                  .ok());
  ASSERT_TRUE(builder
                  .AddAttestation("agent-b", 5,
                                  Predicate("o-3", "2024-05-01T09:00:00Z", "2024-05-01T09:30:00Z",
                                            {Item("wiped", "logical_only", {}, "",
                                                  Storage("btrfs", "/dev/sdb", true))}))
                  .ok());
  const std::vector<HostCertificate> certificates = std::move(builder).Finish();
  ASSERT_EQ(certificates.size(), 2u);

  const HostCertificate& a = certificates[0];
  EXPECT_EQ(a.host.host_id, "host-a");
  EXPECT_EQ(a.host.hostname, "db-1");  // from the host facts: enrollment had none
  EXPECT_EQ(a.machine_id, "m-1");
  EXPECT_EQ(a.kernel, "6.1.0");
  EXPECT_THAT(a.order_ids, ElementsAre("o-1", "o-2"));
  EXPECT_THAT(a.log_indexes, ElementsAre(4, 9));
  EXPECT_THAT(a.policy_names, ElementsAre("nist-clear"));
  EXPECT_EQ(a.method_type, "Clear");
  EXPECT_EQ(a.method, "overwrite: zeros; overwrite: zeros, random");
  EXPECT_EQ(a.tool, "offboard-agent 0.1.0; offboard-agent 0.2.0");
  EXPECT_EQ(a.verification, "direct_io");
  EXPECT_THAT(a.storage, ElementsAre("ext4 on /dev/vda1 (rotational: no, shared extents: no)"));
  EXPECT_EQ(a.assurance, Assurance::kOverwriteFlash);  // the weakest of the two
  EXPECT_EQ(a.items_wiped, 2u);
  EXPECT_EQ(a.items_not_wiped, 3u);
  EXPECT_EQ(a.started_at, "2024-05-01T10:00:00Z");
  EXPECT_EQ(a.finished_at, "2024-05-02T11:00:00Z");

  const HostCertificate& b = certificates[1];
  EXPECT_EQ(b.method_type, "Clear (logical deletion only)");
  EXPECT_EQ(b.method, "overwrite");
  EXPECT_EQ(b.verification, "none");
  EXPECT_EQ(b.assurance, Assurance::kLogicalOnly);
  EXPECT_THAT(b.storage, ElementsAre("btrfs on /dev/sdb (rotational: yes, shared extents: no)"));
  EXPECT_EQ(b.items_not_wiped, 0u);
}

// An order answered in parts is listed as answered only once every part is
// in; what the parts received so far attest still counts.
TEST(HostCertificateBuilderTest, AnOrderInPartsIsAnsweredOnlyWithAllParts) {
  const auto part = [](uint32_t index) {
    Json predicate = Predicate("o-1", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z",
                               {Item("wiped", "overwrite_verified")});
    predicate["part"] = {{"index", index}, {"count", 2}};
    return predicate;
  };
  const auto build = [&](std::vector<uint32_t> indexes) {
    HostCertificateBuilder builder;
    builder.AddHost(Host("a"));
    uint64_t log_index = 0;
    for (uint32_t index : indexes)
      EXPECT_TRUE(builder.AddAttestation("agent-a", log_index++, part(index)).ok());
    return std::move(builder).Finish().front();
  };
  const HostCertificate half = build({2});
  EXPECT_THAT(half.order_ids, ::testing::IsEmpty());
  EXPECT_EQ(half.items_wiped, 1u);
  const HostCertificate whole = build({2, 1});
  EXPECT_THAT(whole.order_ids, ElementsAre("o-1"));
  EXPECT_EQ(whole.items_wiped, 2u);

  HostCertificateBuilder builder;
  builder.AddHost(Host("a"));
  Json bad = part(1);
  bad["part"]["index"] = 3;
  const absl::Status refused = builder.AddAttestation("agent-a", 7, bad);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("log index 7"));
}

TEST(HostCertificateBuilderTest, HostWithoutAttestationStillGetsACertificate) {
  HostCertificateBuilder builder;
  builder.AddHost(Host("a"));
  const std::vector<HostCertificate> certificates = std::move(builder).Finish();
  ASSERT_EQ(certificates.size(), 1u);
  EXPECT_EQ(certificates[0].assurance, std::nullopt);
  EXPECT_EQ(certificates[0].items_wiped, 0u);
  EXPECT_EQ(certificates[0].verification, "none");
  EXPECT_THAT(certificates[0].method_type, HasSubstr("nothing wiped"));
}

TEST(HostCertificateBuilderTest, WipedItemWithoutAssuranceIsLogicalOnly) {
  HostCertificateBuilder builder;
  builder.AddHost(Host("a"));
  ASSERT_TRUE(
      builder
          .AddAttestation("agent-a", 1,
                          Predicate("o-1", "t", "t",
                                    {Item("wiped", "overwrite_verified"), Item("wiped", nullptr)}))
          .ok());
  const HostCertificate certificate = std::move(builder).Finish()[0];
  EXPECT_EQ(certificate.assurance, Assurance::kLogicalOnly);
  EXPECT_EQ(certificate.method_type, "Clear (logical deletion only)");
}

TEST(HostCertificateBuilderTest, UnknownAgentIsInvalidArgument) {
  HostCertificateBuilder builder;
  builder.AddHost(Host("a"));
  const absl::Status status = builder.AddAttestation("agent-z", 17, Predicate("o", "t", "t", {}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("17"));
  EXPECT_THAT(status.message(), HasSubstr("agent-z"));
}

TEST(HostCertificateBuilderTest, ItemThatIsNotAnObjectIsRefusedWithoutFolding) {
  HostCertificateBuilder builder;
  builder.AddHost(Host("a"));
  const absl::Status status = builder.AddAttestation(
      "agent-a", 3, Predicate("o", "t", "t", {Item("wiped", "overwrite_verified"), 42}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("items[1]"));
  const HostCertificate certificate = std::move(builder).Finish()[0];
  EXPECT_EQ(certificate.items_wiped, 0u);
  EXPECT_TRUE(certificate.log_indexes.empty());
}

TEST(HostCertificateBuilderTest, WrongJsonTypesAreTolerated) {
  HostCertificateBuilder builder;
  builder.AddHost(Host("a"));
  Json odd = {{"status", "wiped"},
              {"assurance", 7},
              {"method", Json::array()},
              {"passes", {{{"pattern", 1}, {"verified", "yes"}, {"verify_method", 2}}, 5}},
              {"storage", {{"fs_type", 3}, {"device", nullptr}, {"rotational", "no"}}}};
  EXPECT_TRUE(builder
                  .AddAttestation("agent-a", 1,
                                  {{"order_id", 5},
                                   {"started_at", false},
                                   {"agent", "0.1"},
                                   {"host", Json::array()},
                                   {"policy", {{"name", 9}}},
                                   {"items", {odd, {{"status", 1}}}}})
                  .ok());
  EXPECT_TRUE(builder.AddAttestation("agent-a", 2, Json("not an object")).ok());
  EXPECT_TRUE(builder.AddAttestation("agent-a", 3, {{"items", "nope"}}).ok());
  const HostCertificate certificate = std::move(builder).Finish()[0];
  EXPECT_EQ(certificate.items_wiped, 1u);
  EXPECT_EQ(certificate.items_not_wiped, 1u);
  EXPECT_EQ(certificate.assurance, Assurance::kLogicalOnly);
  EXPECT_TRUE(certificate.order_ids.empty());
  EXPECT_TRUE(certificate.policy_names.empty());
  EXPECT_EQ(certificate.started_at, "");
  EXPECT_EQ(certificate.verification, "none");
  EXPECT_THAT(certificate.storage,
              ElementsAre("unknown filesystem (rotational: unknown, shared extents: unknown)"));
  EXPECT_THAT(certificate.log_indexes, ElementsAre(1, 2, 3));
}

Reconciliation Sample(Verdict want) {
  Reconciliation r;
  r.contract_id = "C-7";
  r.accepted_attestations = 1;
  r.files.push_back({.dataset_id = "ds",
                     .sha256 = Sha('1'),
                     .path = "/srv/a.csv",
                     .state = FileState::kWiped,
                     .copies = 1,
                     .assurance = Assurance::kOverwriteVerified});
  if (want == Verdict::kIncomplete) {
    r.files.push_back({.dataset_id = "ds", .sha256 = Sha('2'), .path = "/srv/gone.csv"});
  }
  if (want == Verdict::kDiscrepancy) {
    r.files.push_back({.dataset_id = "ds",
                       .sha256 = Sha('3'),
                       .path = "/srv/failed.csv",
                       .state = FileState::kFailed,
                       .copies = 1});
    r.unexpected.push_back({.host_id = "host-a",
                            .order_id = "o-1",
                            .path = "/srv/x.tar",
                            .member = {"in/extract.csv"},
                            .dataset_id = "ds",
                            .sha256 = "",
                            .match = "derived",
                            .status = CopyStatus::kNeedsReview,
                            .assurance = std::nullopt,
                            .reason = "contains records of the inventory"});
  }
  for (const FileResult& file : r.files) ++r.file_counts[static_cast<int>(file.state)];
  DecideVerdict(r);
  EXPECT_EQ(r.verdict, want);
  return r;
}

std::string Render(const Reconciliation& r, std::vector<HostCertificate> certificates = {}) {
  return RenderEvidenceReport({.reconciliation = r,
                               .vendor_id = "acme",
                               .exported_at = "2024-06-01T00:00:00Z",
                               .organization = "First Bank",
                               .officer = "",
                               .controller_key_id = "ck-123",
                               .controller_version = "0.1.0",
                               .log_tree_size = 12,
                               .log_root_hex = Sha('r'),
                               .certificates = std::move(certificates)});
}

std::vector<HostCertificate> TwoCertificates() {
  HostCertificateBuilder builder;
  builder.AddHost(Host("a"));
  builder.AddHost(Host("b"));
  EXPECT_TRUE(builder
                  .AddAttestation("agent-a", 1,
                                  Predicate("o-1", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z",
                                            {Item("wiped", "overwrite_verified")}))
                  .ok());
  return std::move(builder).Finish();
}

TEST(RenderEvidenceReportTest, BannerNamesTheVerdict) {
  struct Case {
    Verdict verdict;
    const char* word;
  };
  for (const Case& c : {Case{Verdict::kVerifiedComplete, "<h1>Verified complete</h1>"},
                        Case{Verdict::kIncomplete, "<h1>Incomplete</h1>"},
                        Case{Verdict::kDiscrepancy, "<h1>Discrepancy</h1>"}}) {
    const Reconciliation r = Sample(c.verdict);
    const std::string html = Render(r);
    EXPECT_THAT(html, HasSubstr(std::string("class=\"verdict verdict-") + VerdictName(c.verdict)))
        << VerdictName(c.verdict);
    EXPECT_THAT(html, HasSubstr(c.word));
    EXPECT_LT(html.find(c.word), html.find("id=\"discrepancies\""));
    for (const std::string& reason : r.reasons) EXPECT_THAT(html, HasSubstr(reason));
    EXPECT_THAT(html, HasSubstr("C-7"));
  }
}

TEST(RenderEvidenceReportTest, IsSelfContained) {
  const std::string html = Render(Sample(Verdict::kDiscrepancy), TwoCertificates());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_THAT(html, HasSubstr("<style>"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_TRUE(IsValidUtf8(html));
}

TEST(RenderEvidenceReportTest, DiscrepanciesComeBeforeCertificates) {
  const std::string html = Render(Sample(Verdict::kDiscrepancy), TwoCertificates());
  const size_t discrepancies = html.find("id=\"discrepancies\"");
  const size_t failed = html.find("/srv/failed.csv");
  const size_t copy = html.find("/srv/x.tar!in/extract.csv");
  const size_t summary = html.find("id=\"summary\"");
  const size_t certificates = html.find("id=\"certificates\"");
  const size_t files = html.find("id=\"files\"");
  const size_t verify = html.find("id=\"verify\"");
  ASSERT_NE(discrepancies, std::string::npos);
  ASSERT_NE(certificates, std::string::npos);
  EXPECT_LT(discrepancies, failed);
  EXPECT_LT(discrepancies, copy);
  EXPECT_LT(failed, summary);
  EXPECT_LT(copy, summary);
  EXPECT_LT(summary, certificates);
  EXPECT_LT(certificates, files);
  EXPECT_LT(files, verify);
}

TEST(RenderEvidenceReportTest, CertificateHasTheAppendixGFields) {
  const std::string html = Render(Sample(Verdict::kVerifiedComplete), TwoCertificates());
  for (const char* field :
       {"Media type", "Sanitization method type", "Method used", "Tool used (and version)",
        "Verification method", "Post-sanitization destination", "Assurance reached", "Organization",
        "Person performing sanitization", "Date started", "Date finished", "Agent key id",
        "Orders answered", "Transparency log indexes"}) {
    EXPECT_THAT(html, HasSubstr(std::string("<th>") + field + "</th>")) << field;
  }
  EXPECT_THAT(html, HasSubstr("n/a (files on a vendor host)"));
  EXPECT_THAT(html, HasSubstr("vendor agent agent-a"));
  EXPECT_THAT(html, HasSubstr("First Bank"));
  EXPECT_THAT(html, HasSubstr("ext4 on /dev/vda1 (rotational: no, shared extents: no)"));
  EXPECT_THAT(html, HasSubstr("offboard-verify PKG.tar.gz --controller-key controller.pub.pem"));
  EXPECT_THAT(html, HasSubstr("ck-123"));
}

TEST(RenderEvidenceReportTest, EscapesEveryStringFromThePackage) {
  Reconciliation r = Sample(Verdict::kDiscrepancy);
  r.contract_id = "C<b>'7'";
  r.files[1].path = "/srv/<script>alert(\"x\")</script>&.csv";
  r.files[0].path = std::string("/srv/bad\xff\xfe-name\n.csv");
  r.unexpected[0].reason = "<img src=x onerror=alert(1)>";
  std::vector<HostCertificate> certificates = TwoCertificates();
  certificates[0].host.hostname = "<h1>host</h1>";
  const std::string html = Render(r, std::move(certificates));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(html, Not(HasSubstr("<h1>host")));
  EXPECT_THAT(html, HasSubstr("/srv/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;.csv"));
  EXPECT_THAT(html, HasSubstr("C&lt;b&gt;&#39;7&#39;"));
  EXPECT_THAT(html, HasSubstr("/srv/bad\xEF\xBF\xBD\xEF\xBF\xBD-name\\x0a.csv"));
  EXPECT_TRUE(IsValidUtf8(html));
}

TEST(RenderEvidenceReportTest, IsDeterministic) {
  const Reconciliation r = Sample(Verdict::kDiscrepancy);
  EXPECT_EQ(Render(r, TwoCertificates()), Render(r, TwoCertificates()));
}

TEST(RenderEvidenceReportTest, CapsTheFileList) {
  Reconciliation r;
  r.contract_id = "C-big";
  for (int i = 0; i < 10005; ++i) {
    r.files.push_back({.dataset_id = "ds",
                       .sha256 = Sha('1'),
                       .path = "/f" + std::to_string(i),
                       .state = FileState::kWiped,
                       .copies = 1,
                       .assurance = Assurance::kOverwriteVerified});
  }
  r.file_counts[static_cast<int>(FileState::kWiped)] = r.files.size();
  DecideVerdict(r);
  const std::string html = Render(r);
  EXPECT_THAT(html, HasSubstr("5 more files in reconciliation.csv"));
  EXPECT_THAT(html, HasSubstr(">/f9999<"));
  EXPECT_THAT(html, Not(HasSubstr(">/f10000<")));
}

}  // namespace
}  // namespace offboard::common
