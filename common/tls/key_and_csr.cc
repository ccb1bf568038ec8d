#include "common/tls/key_and_csr.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "common/encoding/utf8.h"
#include "common/status/status_macros.h"
#include "common/tls/x509.h"

namespace offboard::common {
namespace {

// X.520's upper bound for a common name, which OpenSSL enforces.
constexpr size_t kMaxCommonNameBytes = 64;

}  // namespace

absl::StatusOr<KeyAndCsr> GenerateKeyAndCsr(absl::string_view common_name) {
  if (common_name.empty() || common_name.size() > kMaxCommonNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CSR common name must be 1 to ", kMaxCommonNameBytes, " bytes, got ", common_name.size()));
  }
  if (!IsValidUtf8(common_name)) {
    return absl::InvalidArgumentError("CSR common name is not valid UTF-8");
  }
  OFFBOARD_ASSIGN_OR_RETURN(UniqueEvpPkey key, GenerateP256Key());

  UniqueX509Req csr(X509_REQ_new());
  if (!csr || X509_REQ_set_version(csr.get(), X509_REQ_VERSION_1) != 1 ||
      X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(csr.get()), NID_commonName,
                                 MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_REQ_set_pubkey(csr.get(), key.get()) != 1 ||
      X509_REQ_sign(csr.get(), key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError(absl::StrCat("building the CSR: ", OpenSslError()));
  }
  return KeyAndCsr{PrivateKeyToPem(key.get()), CsrToPem(csr.get())};
}

}  // namespace offboard::common
