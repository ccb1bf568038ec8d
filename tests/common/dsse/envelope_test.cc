// DSSE envelopes: the external protocol vectors, then our own edge cases.
#include "common/dsse/envelope.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/encoding/hex.h"

namespace offboard::common {
namespace {

using namespace std::string_literals;

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string Unhex(absl::string_view hex) {
  absl::StatusOr<std::vector<uint8_t>> bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return std::string(bytes->begin(), bytes->end());
}

class DsseVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text = ReadFile(OFFBOARD_TESTDATA_DIR "/external/dsse-vectors.json");
    ASSERT_FALSE(text.empty()) << "missing DSSE vectors";
    vectors_ = nlohmann::json::parse(text);
    for (const auto& [name, key] : vectors_["keys"].items()) {
      absl::StatusOr<Ed25519PrivateKey> private_key =
          Ed25519PrivateKey::FromSeed(Unhex(key["seed"].get<std::string>()));
      ASSERT_TRUE(private_key.ok()) << private_key.status();
      ASSERT_EQ(HexEncode(private_key->PublicKey().Raw()), key["public"].get<std::string>())
          << "seed and public key of " << name << " disagree";
      private_keys_.emplace(name, *private_key);
    }
  }

  nlohmann::json vectors_;
  std::map<std::string, Ed25519PrivateKey> private_keys_;
};

TEST_F(DsseVectorsTest, EveryVectorGivesItsExpectedResult) {
  ASSERT_GE(vectors_["vectors"].size(), 9u);
  for (const nlohmann::json& vector : vectors_["vectors"]) {
    const std::string id = vector["id"].get<std::string>();
    SCOPED_TRACE(id);
    std::vector<TrustedKey> trusted;
    for (const nlohmann::json& name : vector["trustedKeys"]) {
      trusted.push_back({.keyid = name.get<std::string>(),
                         .key = private_keys_.at(name.get<std::string>()).PublicKey()});
    }
    std::vector<std::string> supported;
    for (const nlohmann::json& type : vector["supportedPayloadTypes"]) {
      supported.push_back(type.get<std::string>());
    }
    const DsseVerifier verifier(trusted, vector["threshold"].get<size_t>(), supported);
    const std::string wire = vector["envelope"].dump();
    const absl::StatusOr<VerifiedPayload> result = verifier.Verify(wire);
    const bool expect_accept = vector["expect"].get<std::string>() == "accept";
    EXPECT_EQ(result.ok(), expect_accept) << result.status();

    // The PAE we compute from the decoded envelope equals the vector's, for
    // every vector whose envelope decodes.
    const absl::StatusOr<DsseEnvelope> envelope = ParseDsseEnvelope(wire);
    if (envelope.ok() && vector.contains("pae") && expect_accept) {
      EXPECT_EQ(HexEncode(PreAuthEncoding(envelope->payload_type, envelope->payload)),
                vector["pae"].get<std::string>());
    }
  }
}

TEST_F(DsseVectorsTest, OurSignatureEqualsTheVectorSignature) {
  // Ed25519 is deterministic: signing the first vector's PAE with key A must
  // reproduce its signature byte for byte.
  const nlohmann::json& vector = vectors_["vectors"][0];
  ASSERT_EQ(vector["id"], "single-signature");
  const DsseEnvelope theirs = *ParseDsseEnvelope(vector["envelope"].dump());
  const DsseEnvelope ours = SignDsse(theirs.payload_type, theirs.payload, private_keys_.at("A"));
  EXPECT_EQ(ours.signatures[0].sig, theirs.signatures[0].sig);
}

TEST_F(DsseVectorsTest, SharedCopyMatchesOurCopy) {
  const std::string shared =
      ReadFile(OFFBOARD_TESTDATA_DIR "/../../../shared/testdata/dsse-vectors.json");
  if (shared.empty()) GTEST_SKIP() << "no shared/testdata beside this checkout";
  EXPECT_EQ(shared, ReadFile(OFFBOARD_TESTDATA_DIR "/external/dsse-vectors.json"));
}

class DsseTest : public ::testing::Test {
 protected:
  DsseTest()
      : key_(*Ed25519PrivateKey::Generate()),
        other_(*Ed25519PrivateKey::Generate()),
        verifier_({{key_.KeyId(), key_.PublicKey()}}, 1, {std::string(kInTotoPayloadType)}) {}

  Ed25519PrivateKey key_;
  Ed25519PrivateKey other_;
  DsseVerifier verifier_;
};

TEST_F(DsseTest, RoundTripThroughJson) {
  const std::string payload = "{\"hello\":\"world\"}\n\0binary"s;
  const std::string wire = SerializeDsseEnvelope(SignDsse(kInTotoPayloadType, payload, key_));
  const absl::StatusOr<VerifiedPayload> verified = verifier_.Verify(wire);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->payload, payload);
  EXPECT_EQ(verified->keyids, std::vector<std::string>{key_.KeyId()});
}

TEST_F(DsseTest, TamperedPayloadIsRejected) {
  DsseEnvelope envelope = SignDsse(kInTotoPayloadType, "original", key_);
  envelope.payload = "0riginal";
  const absl::StatusOr<VerifiedPayload> verified = verifier_.Verify(envelope);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(DsseTest, UntrustedKeyIsRejectedEvenWithTrustedKeyId) {
  DsseEnvelope envelope = SignDsse(kInTotoPayloadType, "x", other_);
  envelope.signatures[0].keyid = key_.KeyId();
  EXPECT_EQ(verifier_.Verify(envelope).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(DsseTest, NoSignaturesIsRejected) {
  DsseEnvelope envelope = SignDsse(kInTotoPayloadType, "x", key_);
  envelope.signatures.clear();
  EXPECT_THAT(verifier_.Verify(envelope).status().message(), HasSubstr("0 of 0"));
}

TEST_F(DsseTest, UnsupportedPayloadTypeIsRejectedBeforeSignatures) {
  const DsseEnvelope envelope = SignDsse("text/plain", "x", key_);
  const absl::Status status = verifier_.Verify(envelope).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("unsupported payloadType 'text/plain'"));
}

TEST_F(DsseTest, MalformedEnvelopesNameTheField) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"not json", "not valid JSON"},
      {"[]", "top level must be a JSON object"},
      {R"({"payloadType":"t","signatures":[]})", "missing field 'payload'"},
      {R"({"payload":"","signatures":[]})", "missing field 'payloadType'"},
      {R"({"payload":"","payloadType":"t"})", "field 'signatures' must be an array"},
      {R"({"payload":1,"payloadType":"t","signatures":[]})", "field 'payload' must be a string"},
      {R"({"payload":"a b","payloadType":"t","signatures":[]})",
       "field 'payload': invalid base64 character at position 1"},
      {R"({"payload":"","payloadType":"t","signatures":[{"keyid":"k"}]})",
       "signatures[0]: missing field 'sig'"},
      {R"({"payload":"","payloadType":"t","signatures":[{"sig":"AAAA","keyid":7}]})",
       "signatures[0]: field 'keyid' must be a string"},
      {R"({"payload":"","payloadType":"t","signatures":["x"]})",
       "signatures[0]: must be an object"},
      // Readers disagree on which of two equal keys counts: refused.
      {R"({"payload":"","payload":"e30=","payloadType":"t","signatures":[]})",
       "DSSE envelope: key \"payload\" appears twice in the top level"},
      {R"({"payload":"","payloadType":"t","signatures":[{"sig":"AAAA","sig":"BBBB"}]})",
       "key \"sig\" appears twice in signatures[0]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    const absl::StatusOr<DsseEnvelope> envelope = ParseDsseEnvelope(c.json);
    ASSERT_FALSE(envelope.ok());
    EXPECT_EQ(envelope.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(envelope.status().message(), HasSubstr(c.message));
  }
}

TEST(DsseBase64Test, AcceptsBothAlphabetsWithAndWithoutPadding) {
  EXPECT_EQ(*DecodeDsseBase64("+/+/Pj8="), "\xfb\xff\xbf>?");
  EXPECT_EQ(*DecodeDsseBase64("-_-_Pj8="), "\xfb\xff\xbf>?");
  EXPECT_EQ(*DecodeDsseBase64("-_-_Pj8"), "\xfb\xff\xbf>?");
  EXPECT_EQ(*DecodeDsseBase64("aGk="), "hi");
  EXPECT_EQ(*DecodeDsseBase64("aGk"), "hi");
  EXPECT_EQ(*DecodeDsseBase64(""), "");
}

TEST(DsseBase64Test, RejectsWhitespaceMixedAlphabetsAndBadLengths) {
  EXPECT_FALSE(DecodeDsseBase64("aG k=").ok());
  EXPECT_FALSE(DecodeDsseBase64("aGk=\n").ok());
  EXPECT_THAT(DecodeDsseBase64("+_aa").status().message(), HasSubstr("mixes"));
  EXPECT_FALSE(DecodeDsseBase64("a").ok());
  EXPECT_FALSE(DecodeDsseBase64("aGk==").ok());
  EXPECT_FALSE(DecodeDsseBase64("aG===").ok());
  EXPECT_FALSE(DecodeDsseBase64("a=Gk").ok());
}

// The decoder against absl's, for every length up to 300 bytes and both
// alphabets, and the position it names for a bad character anywhere.
TEST(DsseBase64Test, AgreesWithAbslAndNamesTheFirstBadCharacter) {
  std::mt19937 random(7);
  for (size_t length = 0; length <= 300; ++length) {
    std::string data(length, '\0');
    for (char& c : data) c = static_cast<char>(random());
    for (const bool url : {false, true}) {
      const std::string text = url ? absl::WebSafeBase64Escape(data) : absl::Base64Escape(data);
      SCOPED_TRACE(text);
      const absl::StatusOr<std::string> decoded = DecodeDsseBase64(text);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      ASSERT_EQ(*decoded, data);
      if (text.empty()) continue;
      // Not in the padding: "=*" would make the "=" the first bad character.
      const size_t bad = random() % std::min(text.size(), text.find('='));
      std::string broken = text;
      broken[bad] = '*';
      EXPECT_THAT(DecodeDsseBase64(broken).status().message(),
                  HasSubstr(absl::StrCat("at position ", bad)));
    }
  }
  EXPECT_THAT(DecodeDsseBase64("AAAA+AAA_AAA").status().message(), HasSubstr("mixes"));
  EXPECT_THAT(DecodeDsseBase64("aGl=").status().message(), HasSubstr("does not decode"));
  EXPECT_THAT(DecodeDsseBase64("aGlhbQ==").status().ok(), true);
  EXPECT_THAT(DecodeDsseBase64("aGlhbR==").status().message(), HasSubstr("does not decode"));
}

TEST(DsseThresholdTest, OneKeyUnderTwoIdsDoesNotMeetThresholdTwo) {
  const Ed25519PrivateKey key = *Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignDsse(kInTotoPayloadType, "x", key);
  envelope.signatures[0].keyid = "first";
  envelope.signatures.push_back({.keyid = "second", .sig = envelope.signatures[0].sig});
  const DsseVerifier verifier({{"first", key.PublicKey()}, {"second", key.PublicKey()}}, 2,
                              {std::string(kInTotoPayloadType)});
  EXPECT_EQ(verifier.Verify(envelope).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(DsseThresholdTest, TwoDistinctSignersMeetThresholdTwo) {
  const Ed25519PrivateKey a = *Ed25519PrivateKey::Generate();
  const Ed25519PrivateKey b = *Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignDsse(kInTotoPayloadType, "x", a);
  AddDsseSignature(envelope, b);
  const DsseVerifier verifier({{a.KeyId(), a.PublicKey()}, {b.KeyId(), b.PublicKey()}}, 2,
                              {std::string(kInTotoPayloadType)});
  const absl::StatusOr<VerifiedPayload> verified = verifier.Verify(SerializeDsseEnvelope(envelope));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->keyids.size(), 2u);
}

}  // namespace
}  // namespace offboard::common
