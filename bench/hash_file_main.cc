// offboard-hash-file: prints "<sha256>  <path>" for each file, like sha256sum,
// hashing through common/'s streaming SHA-256. The benchmark script times it
// against `openssl dgst -sha256` and `sha256sum` on the same file.
#include <iostream>

#include "common/crypto/sha256.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: offboard-hash-file FILE...\n";
    return 2;
  }
  int exit_code = 0;
  for (int i = 1; i < argc; ++i) {
    const auto digest = offboard::common::Sha256File(argv[i]);
    if (!digest.ok()) {
      std::cerr << "offboard-hash-file: " << digest.status().message() << "\n";
      exit_code = 1;
      continue;
    }
    std::cout << offboard::common::DigestHex(*digest) << "  " << argv[i] << "\n";
  }
  return exit_code;
}
