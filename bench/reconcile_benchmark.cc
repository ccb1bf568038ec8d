// Reconciliation of a large contract: issue 5 asks for 1M inventory files in
// at most 5 s and 1 GiB resident.
//
//   reconcile_benchmark [FILES] [ATTESTATIONS] [ITEMS_PER_ATTESTATION]
//
// Builds FILES synthetic inventory rows (10 datasets) and streams them into a
// Reconciler, then ATTESTATIONS predicates of ITEMS_PER_ATTESTATION items each,
// with every key agent/wipe/wipe_report_json.cc writes, one at a time and
// dropped after use as the controller would (a few items are derived copies,
// a few failed). Prints the seconds spent inside the Reconciler (building the
// synthetic JSON is not counted), the seconds to stream `status --json` and
// the CSV to a counting sink, and the peak resident set size (getrusage), which
// does include the synthetic JSON of one attestation.
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/reconcile/reconciler.h"
#include "common/reconcile/reconciliation_report.h"

namespace {

using offboard::common::AcceptedAttestation;
using offboard::common::ExpectedFile;
using offboard::common::Reconciler;
using Clock = std::chrono::steady_clock;

// Wall and CPU time spent in the timed sections: the machine may be shared,
// so CPU time says what the code costs when wall time is inflated.
struct Stopwatch {
  Clock::duration wall{};
  double cpu = 0;
  Clock::time_point wall_start;
  double cpu_start = 0;

  static double CpuNow() {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
  }
  void Start() {
    wall_start = Clock::now();
    cpu_start = CpuNow();
  }
  void Stop() {
    wall += Clock::now() - wall_start;
    cpu += CpuNow() - cpu_start;
  }
};

// Counts bytes and throws them away.
class CountingBuffer : public std::streambuf {
 public:
  uint64_t bytes() const { return bytes_; }

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) ++bytes_;
    return c;
  }
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes_ += static_cast<uint64_t>(n);
    return n;
  }

 private:
  uint64_t bytes_ = 0;
};

std::string Sha(uint64_t n) {
  return absl::StrFormat("%016x%016x%016x%016x", n * 0x9e3779b97f4a7c15u, n, ~n, n ^ 0xabcdefu);
}
std::string Dataset(uint64_t n) { return absl::StrFormat("dataset-%02d", n % 10); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double PeakRssMiB() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

nlohmann::json Item(uint64_t file, uint64_t attestation, uint64_t files) {
  const bool derived = file % 1000 == 999;  // an extract of the file, not the file
  const bool failed = file % 100000 == 7;
  return {{"path",
           absl::StrFormat("/srv/vendor/host%d/%s/copy-%d.csv", attestation, Dataset(file), file)},
          {"member",
           file % 7 == 0 ? nlohmann::json::array({"inner/file.csv"}) : nlohmann::json::array()},
          {"dataset_id", Dataset(file)},
          {"sha256", derived ? Sha(file + files) : Sha(file)},
          {"match", derived         ? "derived"
                    : file % 7 == 0 ? "archive"
                                    : "exact"},
          {"status", failed ? "failed" : "wiped"},
          {"assurance", failed ? nlohmann::json(nullptr) : nlohmann::json("overwrite_verified")},
          {"method", "overwrite"},
          {"passes",
           nlohmann::json::array(
               {{{"pattern", "random"}, {"verified", true}, {"verify_method", "read-back"}}})},
          {"renames", 1},
          {"bytes_overwritten", 4096},
          {"link_count", 1},
          {"storage",
           {{"fs_type", "ext4"},
            {"fs_magic", 61267},
            {"device", "/dev/sda1"},
            {"mount_point", "/srv"},
            {"rotational", true},
            {"discard", false},
            {"mount_options", "rw,relatime"},
            {"data_journal", false},
            {"shared_extents", false},
            {"extents_mapped", true},
            {"note", ""}}},
          {"reason", ""}};
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t files = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const uint64_t attestations = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10;
  const uint64_t per_attestation =
      argc > 3 ? std::strtoull(argv[3], nullptr, 10) : files / attestations;

  offboard::common::ReconcileContext context{.contract_id = "C-bench", .now = 1000};
  for (uint64_t i = 0; i < attestations; ++i) {
    context.orders.push_back({.order_id = absl::StrFormat("order-%d", i),
                              .host_id = absl::StrFormat("host-%d", i),
                              .agent_id = absl::StrFormat("agent-%d", i),
                              .expires_at = 2000,
                              .answered = true});
  }
  Stopwatch inventory_time, attestation_time, finish_time, json_time, csv_time;
  Reconciler reconciler(context);
  reconciler.ReserveFiles(files);
  // Rows are made in batches, untimed, and added in timed batches: a clock
  // read per row would cost as much as adding it.
  std::vector<ExpectedFile> batch;
  for (uint64_t first = 0; first < files; first += batch.size()) {
    batch.clear();
    for (uint64_t i = first; i < files && batch.size() < 10000; ++i) {
      batch.push_back({.dataset_id = Dataset(i),
                       .path = absl::StrFormat("/delivered/%s/part-%d/customers-%d.csv", Dataset(i),
                                               i / 1000, i),
                       .sha256 = Sha(i),
                       .size = 4096});
    }
    inventory_time.Start();
    for (ExpectedFile& row : batch) {
      if (const absl::Status status = reconciler.AddExpectedFile(std::move(row)); !status.ok()) {
        std::fprintf(stderr, "reconcile_benchmark: %s\n", std::string(status.message()).c_str());
        return 1;
      }
    }
    inventory_time.Stop();
  }
  batch = {};
  uint64_t items = 0;
  for (uint64_t a = 0; a < attestations; ++a) {
    AcceptedAttestation attestation{.order_id = context.orders[a].order_id,
                                    .agent_id = context.orders[a].agent_id,
                                    .host_id = context.orders[a].host_id,
                                    .log_index = a,
                                    .predicate = {{"order_id", context.orders[a].order_id}}};
    nlohmann::json list = nlohmann::json::array();
    for (uint64_t i = 0; i < per_attestation; ++i) {
      list.push_back(Item((a * per_attestation + i) % files, a, files));
    }
    items += per_attestation;
    attestation.predicate["items"] = std::move(list);
    attestation_time.Start();
    if (const absl::Status status = reconciler.AddAttestation(attestation); !status.ok()) {
      std::fprintf(stderr, "reconcile_benchmark: %s\n", std::string(status.message()).c_str());
      return 1;
    }
    attestation_time.Stop();
  }
  finish_time.Start();
  const offboard::common::Reconciliation result = std::move(reconciler).Finish();
  finish_time.Stop();

  json_time.Start();
  CountingBuffer json_sink;
  std::ostream json_out(&json_sink);
  offboard::common::WriteReconciliationJson(result, json_out);
  json_time.Stop();
  csv_time.Start();
  CountingBuffer csv_sink;
  std::ostream csv_out(&csv_sink);
  offboard::common::WriteReconciliationCsv(result, csv_out);
  csv_time.Stop();
  const double wall = Seconds(inventory_time.wall + attestation_time.wall + finish_time.wall);
  const double cpu = inventory_time.cpu + attestation_time.cpu + finish_time.cpu;

  std::printf("files=%llu attestations=%llu items=%llu\n", static_cast<unsigned long long>(files),
              static_cast<unsigned long long>(attestations),
              static_cast<unsigned long long>(items));
  std::printf(
      "verdict=%s wiped=%llu failed=%llu not_found=%llu unexpected=%zu\n",
      offboard::common::VerdictName(result.verdict),
      static_cast<unsigned long long>(result.count(offboard::common::FileState::kWiped)),
      static_cast<unsigned long long>(result.count(offboard::common::FileState::kFailed)),
      static_cast<unsigned long long>(result.count(offboard::common::FileState::kNotFound)),
      result.unexpected.size());
  std::printf(
      "reconcile_seconds=%.3f cpu=%.3f (limit 5): inventory %.3f, attestations %.3f, finish %.3f "
      "(wall)\n",
      wall, cpu, Seconds(inventory_time.wall), Seconds(attestation_time.wall),
      Seconds(finish_time.wall));
  std::printf(
      "status_json_seconds=%.3f cpu=%.3f bytes=%llu; csv_seconds=%.3f cpu=%.3f bytes=%llu\n",
      Seconds(json_time.wall), json_time.cpu, static_cast<unsigned long long>(json_sink.bytes()),
      Seconds(csv_time.wall), csv_time.cpu, static_cast<unsigned long long>(csv_sink.bytes()));
  std::printf("peak_rss_mib=%.1f (limit 1024)\n", PeakRssMiB());
  return wall <= 5.0 && PeakRssMiB() <= 1024.0 ? 0 : 1;
}
