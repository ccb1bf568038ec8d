#include "common/crypto/openssl_error.h"

#include <openssl/err.h>

namespace offboard::common {

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

std::string MemoryBioContents(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  if (data == nullptr || length <= 0) return "";
  return std::string(data, static_cast<size_t>(length));
}

}  // namespace offboard::common
