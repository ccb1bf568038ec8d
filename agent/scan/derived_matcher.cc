// Derived-copy matching, and the per-line record detection redaction uses: RE2
// finds identifiers in whole lines, each one is HMAC-SHA256'd with its
// dataset's key and looked up in that dataset's digests.
// The contract is in derived_matcher.h. Issue 3 asks for 300 MB/s per core with
// 1M fingerprints, i.e. ~150 ns per 45-byte CSV record for regex, HMAC and lookup:
// - HMAC runs on SHA256_CTX states that absorbed the key pads once, so an
//   identifier of up to 55 bytes costs two SHA-256 compressions and no
//   allocation. In OpenSSL 3.0 the EVP ways (EVP_MD_CTX_copy_ex, EVP_MAC_CTX_dup,
//   EVP_MAC_init of a keyed context) allocate or re-derive provider state per
//   call and measured 1.7-5x slower, hence the low-level API 3.0 deprecates.
// - RE2 is called anchored where the regex's literal prefix occurs, on that line
//   alone, so it runs its one-pass matcher instead of two DFA passes under a lock.
// - Most identifiers are not in the set: a bitmap of 8 bits per digest (1 MiB
//   for 1M) rejects ~88% of them before the sorted digests are touched; lookups are
//   pipelined so their cache misses overlap the HMAC work of later identifiers.
// - Datasets that share an identifier regex share one RE2 pass.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init/Update/Final/Transform; see above.

#include "agent/scan/derived_matcher.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/inventory/identifier_regex.h"
#include "common/status/status_macros.h"

namespace offboard::agent {
namespace {

using Digest = std::array<uint8_t, 32>;
using Range = std::pair<uint32_t, uint32_t>;  // [first, end) in a DigestTable

// A line longer than this is examined in pieces, to bound memory. A piece ends
// after the last field delimiter in its final kCutSearchBytes, if any, so that
// identifiers are rarely split.
constexpr size_t kMaxLineBytes = size_t{1} << 20;
constexpr size_t kCutSearchBytes = 4096;
constexpr std::string_view kFieldDelimiters = " \t,;|\"'\r";

constexpr size_t kShaBlockBytes = 64;

// The last '\n' in text[0, end), or npos. glibc's memrchr reads a vector at
// a time; a string_view's rfind compares byte by byte, which shows on a long
// line (a file with no newline is read in chunks of hundreds of KiB).
size_t LastNewline(std::string_view text, size_t end = std::string_view::npos) {
  const void* hit = memrchr(text.data(), '\n', std::min(end, text.size()));
  return hit == nullptr ? std::string_view::npos
                        : static_cast<size_t>(static_cast<const char*>(hit) - text.data());
}

uint64_t LoadBigEndian64(const uint8_t* in) {
  uint64_t value;
  std::memcpy(&value, in, sizeof(value));
  return std::endian::native == std::endian::little ? __builtin_bswap64(value) : value;
}

// One store, where a loop over the bytes was a tenth of the matching time.
void StoreBigEndian32(uint32_t value, uint8_t* out) {
  if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap32(value);
  std::memcpy(out, &value, sizeof(value));
}

// Inline, unlike std::array's operator== (a memcmp call).
bool SameDigest(const Digest& a, const Digest& b) {
  uint64_t x[4], y[4];
  std::memcpy(x, a.data(), sizeof(x));
  std::memcpy(y, b.data(), sizeof(y));
  return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

// HMAC-SHA256 (RFC 2104) with the key's inner and outer pads absorbed once.
// The two states are as secret as the key and are wiped on destruction.
class KeyedHmac {
 public:
  explicit KeyedHmac(std::span<const uint8_t> key) {
    std::array<uint8_t, kShaBlockBytes> block{}, pad;
    if (key.size() > kShaBlockBytes) {
      SHA256(key.data(), key.size(), block.data());
    } else if (!key.empty()) {
      std::memcpy(block.data(), key.data(), key.size());
    }
    for (auto [state, mask] : {std::pair{&inner_, 0x36}, std::pair{&outer_, 0x5c}}) {
      for (size_t i = 0; i < kShaBlockBytes; ++i) pad[i] = block[i] ^ mask;
      SHA256_Init(state);
      SHA256_Update(state, pad.data(), pad.size());
    }
    OPENSSL_cleanse(block.data(), block.size());
    OPENSSL_cleanse(pad.data(), pad.size());
  }
  ~KeyedHmac() {
    OPENSSL_cleanse(&inner_, sizeof(inner_));
    OPENSSL_cleanse(&outer_, sizeof(outer_));
  }
  KeyedHmac(const KeyedHmac&) = delete;
  KeyedHmac& operator=(const KeyedHmac&) = delete;

  // The state copies on the stack are not wiped: that would cost a tenth of
  // the time, and whoever reads this thread's stack can read inner_ too.
  Digest Compute(std::string_view message) const {
    SHA256_CTX ctx = inner_;
    std::array<uint8_t, kShaBlockBytes> block{};
    if (message.size() + 9 <= kShaBlockBytes) {  // one final block
      std::memcpy(block.data(), message.data(), message.size());
      FinishBlock(ctx, message.size(), block);
    } else {
      SHA256_Update(&ctx, message.data(), message.size());
      SHA256_Final(block.data(), &ctx);
      std::fill(block.begin() + 32, block.end(), 0);
    }
    ctx = outer_;
    FinishBlock(ctx, 32, block);
    Digest digest;
    std::copy_n(block.begin(), digest.size(), digest.begin());
    return digest;
  }

 private:
  // Pads the last `size` message bytes at the start of `block` (zero after
  // them), compresses, and leaves the digest in block[0, 32).
  static void FinishBlock(SHA256_CTX& ctx, size_t size,
                          std::array<uint8_t, kShaBlockBytes>& block) {
    block[size] = 0x80;
    const uint64_t bits = (kShaBlockBytes + size) * 8;  // the key pad was one block
    for (int i = 0; i < 8; ++i) block[56 + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    SHA256_Transform(&ctx, block.data());
    std::fill(block.begin(), block.end(), 0);
    for (int i = 0; i < 8; ++i) StoreBigEndian32(ctx.h[i], &block[4 * i]);
  }

  SHA256_CTX inner_;
  SHA256_CTX outer_;
};

// The digests of one dataset, sorted, behind a filter and a bucket table on
// their leading bits: about 35 bytes per digest. Lookups are pipelined:
// Prefetch, later MayContain and PrefetchBucket, later Candidates, later Position.
class DigestTable {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  explicit DigestTable(std::vector<Digest> digests) : digests_(std::move(digests)) {
    if (!std::is_sorted(digests_.begin(), digests_.end()))
      std::sort(digests_.begin(), digests_.end());
    digests_.erase(std::unique(digests_.begin(), digests_.end()), digests_.end());
    digests_.shrink_to_fit();
    const size_t n = std::max<size_t>(digests_.size(), 2);
    // 1-2 digests per bucket, 2^24 buckets at most.
    const int bucket_bits = std::min(static_cast<int>(std::bit_width(n)) - 1, 24);
    bucket_shift_ = 64 - bucket_bits;
    bucket_start_.assign((size_t{1} << bucket_bits) + 1, 0);
    const size_t filter_bits = std::bit_ceil(std::max<size_t>(n * 8, 512));
    filter_mask_ = filter_bits - 1;
    filter_.assign(filter_bits / 64, 0);
    for (const Digest& digest : digests_) {
      ++bucket_start_[Bucket(digest) + 1];
      filter_[FilterBit(digest) / 64] |= uint64_t{1} << (FilterBit(digest) % 64);
    }
    for (size_t i = 1; i < bucket_start_.size(); ++i) bucket_start_[i] += bucket_start_[i - 1];
  }

  void Prefetch(const Digest& d) const { __builtin_prefetch(&filter_[FilterBit(d) / 64]); }
  bool MayContain(const Digest& d) const {
    return (filter_[FilterBit(d) / 64] >> (FilterBit(d) % 64) & 1) != 0;
  }
  void PrefetchBucket(const Digest& d) const { __builtin_prefetch(&bucket_start_[Bucket(d)]); }
  Range Candidates(const Digest& d) const {
    const Range range(bucket_start_[Bucket(d)], bucket_start_[Bucket(d) + 1]);
    __builtin_prefetch(&digests_[range.first]);
    return range;
  }
  uint32_t Position(const Digest& d, Range range) const {
    for (uint32_t i = range.first; i < range.second; ++i) {
      if (SameDigest(digests_[i], d)) return i;
    }
    return kAbsent;
  }
  // The same lookup unpipelined, for one-off questions.
  bool Contains(const Digest& d) const {
    return MayContain(d) && Position(d, Candidates(d)) != kAbsent;
  }

 private:
  size_t Bucket(const Digest& d) const { return LoadBigEndian64(d.data()) >> bucket_shift_; }
  // Independent of Bucket, as HMAC output bits are.
  size_t FilterBit(const Digest& d) const { return LoadBigEndian64(&d[8]) & filter_mask_; }

  std::vector<Digest> digests_;
  int bucket_shift_ = 63;
  std::vector<uint32_t> bucket_start_;
  uint64_t filter_mask_ = 0;
  std::vector<uint64_t> filter_;
};

// An identifier regex compiled for scanning. Group 1 is the identifier: a
// regex without a capturing group is wrapped in one.
class IdentifierRegex {
 public:
  // RE2's error text when it cannot run the regex.
  static absl::StatusOr<std::unique_ptr<IdentifierRegex>> Compile(const std::string& ecmascript) {
    OFFBOARD_ASSIGN_OR_RETURN(std::unique_ptr<RE2> re2, common::CompileIdentifierRegex(ecmascript));
    std::unique_ptr<IdentifierRegex> regex(new IdentifierRegex(ecmascript, std::move(re2)));
    // Every match starts with the common prefix of the bounds of all matching
    // strings. Those are computed for a match at the start of a text, where \B
    // may fail though it holds mid-line, so \B disables the shortcut.
    std::string min, max;
    if (regex->re2_->pattern().find("\\B") == std::string::npos &&
        regex->re2_->PossibleMatchRange(&min, &max, 16)) {
      regex->prefix_.assign(min.begin(),
                            std::mismatch(min.begin(), min.end(), max.begin(), max.end()).first);
    }
    return regex;
  }

  const std::string& source() const { return source_; }

  // Calls found(identifier) for each leftmost-first match in `text` (whole
  // lines). A `found` returning bool stops the search by returning false.
  template <typename Found>
  void ForEachIdentifier(std::string_view text, Found&& found) const {
    std::array<re2::StringPiece, 2> groups;
    size_t pos = 0;
    size_t line_start = 0;  // of the line holding the last prefix found
    size_t line_end = 0;
    size_t misses = 0;  // anchored attempts that failed on that line
    while (pos <= text.size()) {
      if (!prefix_.empty()) {
        // No match spans lines, so the line is all the context ^, $ and \b
        // need, and for lines up to 4 KiB RE2 then uses its one-pass matcher.
        const size_t start = FindPrefix(text, pos);
        if (start == std::string_view::npos) return;
        if (start >= line_end) {
          const size_t newline = LastNewline(text, start);
          line_start = newline == std::string_view::npos ? 0 : newline + 1;
          line_end = std::min(text.find('\n', start), text.size());
          misses = 0;
        }
        const re2::StringPiece line(text.data() + line_start, line_end - line_start);
        if (misses < kAnchoredMisses) {
          if (!re2_->Match(line, start - line_start, line.size(), RE2::ANCHOR_START, groups.data(),
                           2)) {
            ++misses;
            pos = start + 1;
            continue;
          }
        } else if (!re2_->Match(line, start - line_start, line.size(), RE2::UNANCHORED,
                                groups.data(), 2)) {
          pos = line_end + 1;  // no match in the rest of the line
          continue;
        } else if (!std::string_view(groups[0].data(), groups[0].size()).starts_with(prefix_)) {
          // The prefix holds for a match at the start of a text; mid-line a
          // \b before a non-word character ("\b-?1\d{5}") may start one
          // elsewhere, which no anchored attempt would have found. None found
          // one before it, so the attempts go on after its start.
          pos = static_cast<size_t>(groups[0].data() - text.data()) + 1;
          continue;
        }
      } else if (!re2_->Match(re2::StringPiece(text.data(), text.size()), pos, text.size(),
                              RE2::UNANCHORED, groups.data(), 2)) {
        return;
      }
      if (!groups[1].empty()) {
        const std::string_view identifier(groups[1].data(), groups[1].size());
        if constexpr (std::is_same_v<std::invoke_result_t<Found&, std::string_view>, bool>) {
          if (!found(identifier)) return;
        } else {
          found(identifier);
        }
      }
      const size_t end = static_cast<size_t>(groups[0].data() - text.data()) + groups[0].size();
      pos = groups[0].empty() ? end + 1 : end;
    }
  }

 private:
  IdentifierRegex(std::string source, std::unique_ptr<RE2> re2)
      : source_(std::move(source)), re2_(std::move(re2)) {}

  // A line where the prefix keeps occurring without a match (a run of digits
  // for an identifier starting with one) is searched by one unanchored pass
  // after this many anchored attempts: each costs RE2's fixed ~60 ns, so a
  // megabyte of "1111..." took a million of them.
  static constexpr size_t kAnchoredMisses = 8;

  // Like string_view::find, without its memcmp call per first-byte hit.
  size_t FindPrefix(std::string_view text, size_t pos) const {
    while (pos < text.size()) {
      const void* hit = std::memchr(text.data() + pos, prefix_[0], text.size() - pos);
      if (hit == nullptr) break;
      const size_t at = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
      size_t i = 1;
      while (i < prefix_.size() && at + i < text.size() && text[at + i] == prefix_[i]) ++i;
      if (i == prefix_.size()) return at;
      pos = at + 1;
    }
    return std::string_view::npos;
  }

  std::string source_;  // as in the fingerprint file
  std::unique_ptr<RE2> re2_;
  std::string prefix_;  // every match starts with it; may be empty
};

}  // namespace

struct FingerprintIndex::Compiled {
  Compiled(std::string id, std::span<const uint8_t> key, uint32_t min, std::vector<Digest> digests)
      : dataset_id(std::move(id)), min_matches(min), hmac(key), table(std::move(digests)) {}

  std::string dataset_id;
  uint32_t min_matches;
  KeyedHmac hmac;
  DigestTable table;
  // Only on the first dataset with a given regex: the compiled regex and the
  // indexes of all datasets using it, this one included.
  std::unique_ptr<IdentifierRegex> regex;
  std::vector<size_t> sharing;
};

absl::StatusOr<FingerprintIndex> FingerprintIndex::Build(std::vector<common::FingerprintSet> sets) {
  absl::Cleanup wipe_keys = [&sets] {
    for (common::FingerprintSet& set : sets)
      OPENSSL_cleanse(set.hmac_key.data(), set.hmac_key.size());
  };
  std::vector<std::unique_ptr<Compiled>> compiled;
  for (common::FingerprintSet& set : sets) {
    if (set.min_matches < 1 || set.digests.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("fingerprint set '", set.dataset_id,
                       "': needs min_matches >= 1 and at least one digest"));
    }
    const size_t self = compiled.size();
    size_t leader = 0;
    while (leader < self && (compiled[leader]->regex == nullptr ||
                             compiled[leader]->regex->source() != set.identifier_regex)) {
      ++leader;
    }
    absl::StatusOr<std::unique_ptr<IdentifierRegex>> regex;
    if (leader == self && !(regex = IdentifierRegex::Compile(set.identifier_regex)).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fingerprint set '", set.dataset_id,
          "': identifier regex uses features not supported for scanning (backreferences, "
          "lookaround): ",
          regex.status().message()));
    }
    compiled.push_back(std::make_unique<Compiled>(std::move(set.dataset_id), set.hmac_key,
                                                  set.min_matches, std::move(set.digests)));
    if (leader == self) compiled[leader]->regex = *std::move(regex);
    compiled[leader]->sharing.push_back(self);
  }
  return FingerprintIndex(std::move(compiled));
}

FingerprintIndex::FingerprintIndex(std::vector<std::unique_ptr<Compiled>> sets)
    : sets_(std::move(sets)) {}
FingerprintIndex::FingerprintIndex(FingerprintIndex&&) noexcept = default;
FingerprintIndex& FingerprintIndex::operator=(FingerprintIndex&&) noexcept = default;
FingerprintIndex::~FingerprintIndex() = default;

bool FingerprintIndex::empty() const { return sets_.empty(); }

struct DerivedMatcher::State {
  explicit State(const FingerprintIndex& index) : sets(index.sets_), matched(index.sets_.size()) {}

  // Runs every distinct regex over whole lines (or a piece of an overlong one).
  void ScanLines(std::string_view text) {
    for (const auto& leader : sets) {
      if (leader->regex == nullptr) continue;
      leader->regex->ForEachIdentifier(text, [&](std::string_view identifier) {
        for (size_t index : leader->sharing) Record(index, identifier);
      });
    }
    Drain();
  }

  // The lookup of identifier n takes step k when identifier n + k kLag is
  // recorded, so that each of its memory accesses was prefetched long before.
  void Record(size_t set, std::string_view identifier) {
    const size_t n = recorded++;
    Lookup& lookup = ring[n % ring.size()];
    lookup.set = set;
    lookup.digest = sets[set]->hmac.Compute(identifier);
    sets[set]->table.Prefetch(lookup.digest);
    for (size_t k = 1; k <= 3 && n >= k * kLag; ++k) Step(ring[(n - k * kLag) % ring.size()], k);
  }

  // Finishes the lookups still in the pipeline.
  void Drain() {
    const size_t first = recorded > 3 * kLag ? recorded - 3 * kLag : 0;
    for (size_t k = 1; k <= 3; ++k) {
      for (size_t i = first; i < recorded; ++i) {
        if (i + k * kLag >= recorded) Step(ring[i % ring.size()], k);
      }
    }
    recorded = 0;
  }

  struct Lookup {
    size_t set;
    Digest digest;
    bool candidate;  // passed the filter
    Range range;     // where it would be; stored, or GCC drops the prefetch
  };
  void Step(Lookup& lookup, size_t k) {
    const DigestTable& table = sets[lookup.set]->table;
    if (k == 1) {
      lookup.candidate = table.MayContain(lookup.digest);
      if (lookup.candidate) table.PrefetchBucket(lookup.digest);
    } else if (lookup.candidate && k == 2) {
      lookup.range = table.Candidates(lookup.digest);
    } else if (lookup.candidate) {
      const uint32_t position = table.Position(lookup.digest, lookup.range);
      if (position != DigestTable::kAbsent) matched[lookup.set].insert(position);
    }
  }

  // Appends the start of a line to `carry`, scanning it in pieces while it is
  // longer than kMaxLineBytes.
  void Carry(std::string_view text) {
    while (carry.size() + text.size() >= kMaxLineBytes) {
      const size_t take = kMaxLineBytes - carry.size();
      carry.append(text.substr(0, take));
      text.remove_prefix(take);
      // Cut after the last delimiter within kCutSearchBytes of the end, if
      // any; only that window is searched.
      const size_t window = std::min(carry.size(), kCutSearchBytes);
      const size_t found =
          std::string_view(carry).substr(carry.size() - window).find_last_of(kFieldDelimiters);
      const size_t cut =
          found == std::string_view::npos ? carry.size() : carry.size() - window + found + 1;
      ScanLines(std::string_view(carry).substr(0, cut));
      carry.erase(0, cut);
    }
    carry.append(text);
  }

  static constexpr size_t kLag = 8;
  const std::vector<std::unique_ptr<FingerprintIndex::Compiled>>& sets;
  std::vector<absl::flat_hash_set<uint32_t>> matched;  // table positions, per dataset
  std::string carry;                                   // an incomplete last line
  bool binary = false;
  std::array<Lookup, 4 * kLag> ring;
  size_t recorded = 0;  // lookups started since the last Drain
};

DerivedMatcher::DerivedMatcher(const FingerprintIndex& index)
    : state_(std::make_unique<State>(index)) {}
DerivedMatcher::~DerivedMatcher() = default;

void DerivedMatcher::Consume(std::span<const uint8_t> chunk) {
  State& state = *state_;
  if (state.binary || state.sets.empty()) return;
  std::string_view text(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  if (text.find('\0') != std::string_view::npos) {
    state.binary = true;
    std::string().swap(state.carry);
    return;
  }
  if (!state.carry.empty()) {
    const size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return state.Carry(text);
    state.Carry(text.substr(0, newline + 1));
    state.ScanLines(state.carry);
    state.carry.clear();
    text.remove_prefix(newline + 1);
  }
  // Whole lines straight from the caller's buffer, without a copy.
  const size_t last_newline = LastNewline(text);
  if (last_newline != std::string_view::npos) {
    state.ScanLines(text.substr(0, last_newline + 1));
    text.remove_prefix(last_newline + 1);
  }
  state.Carry(text);
}

std::vector<DerivedMatch> DerivedMatcher::Finish() {
  State& state = *state_;
  if (!state.binary && !state.carry.empty()) state.ScanLines(state.carry);
  std::string().swap(state.carry);
  std::vector<DerivedMatch> matches;
  for (size_t i = 0; i < state.sets.size() && !state.binary; ++i) {
    if (state.matched[i].size() >= state.sets[i]->min_matches) {
      matches.push_back({state.sets[i]->dataset_id, state.matched[i].size()});
    }
  }
  return matches;
}

absl::StatusOr<RecordDetector> RecordDetector::Create(
    const FingerprintIndex& index, const absl::flat_hash_set<std::string>& datasets) {
  if (datasets.empty()) return absl::InvalidArgumentError("no dataset to detect records of");
  std::vector<bool> chosen(index.sets_.size(), false);
  for (const std::string& dataset : datasets) {
    bool known = false;
    for (size_t i = 0; i < index.sets_.size(); ++i) {
      if (index.sets_[i]->dataset_id == dataset) chosen[i] = known = true;
    }
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset '", dataset, "' has no fingerprint set in the index"));
    }
  }
  return RecordDetector(index, std::move(chosen));
}

bool RecordDetector::LineHoldsRecord(absl::string_view line) const {
  const std::string_view text(line.data(), line.size());
  const auto& sets = index_->sets_;
  bool holds = false;
  for (const auto& leader : sets) {
    if (leader->regex == nullptr) continue;
    if (std::none_of(leader->sharing.begin(), leader->sharing.end(),
                     [&](size_t i) { return chosen_[i]; })) {
      continue;
    }
    leader->regex->ForEachIdentifier(text, [&](std::string_view identifier) {
      for (size_t i : leader->sharing) {
        if (chosen_[i] && sets[i]->table.Contains(sets[i]->hmac.Compute(identifier))) {
          holds = true;
          return false;
        }
      }
      return true;
    });
    if (holds) return true;
  }
  return false;
}

}  // namespace offboard::agent
