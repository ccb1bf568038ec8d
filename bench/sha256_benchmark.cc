// In-memory SHA-256 throughput: common::Sha256 (streaming, as the scanner
// uses it) beside OpenSSL's one-shot EVP_Digest, in the same run, for the
// buffer sizes the scanner feeds it. Bytes/s are printed by Google Benchmark.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <string>

#include "common/crypto/sha256.h"

namespace {

void BM_OffboardSha256Streaming(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'x');
  offboard::common::Sha256 hasher;
  for (auto _ : state) {
    hasher.Update(data);
    benchmark::DoNotOptimize(hasher.Finish());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_OpenSslEvpDigest(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'x');
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  for (auto _ : state) {
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_OffboardSha256Streaming)->Arg(64)->Arg(4096)->Arg(1 << 20);
BENCHMARK(BM_OpenSslEvpDigest)->Arg(64)->Arg(4096)->Arg(1 << 20);

}  // namespace

BENCHMARK_MAIN();
