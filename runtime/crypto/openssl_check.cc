// OSSL_CHECK failure path: the OpenSSL error queue turned into an Error.
#include "runtime/crypto/openssl_check.h"

#include <openssl/err.h>

#include <string>

#include "runtime/core/error.h"

namespace fedtrain::detail {

void openssl_failed(const char* call, const char* file, int line) {
  char reason[256] = "no OpenSSL error queued";
  unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  throw Error(std::string(call) + " failed: " + reason + " (" + file + ":" + std::to_string(line) + ")");
}

}  // namespace fedtrain::detail
