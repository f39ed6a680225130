// OSSL_CHECK: every OpenSSL return code is checked; a failure throws an Error naming the call and OpenSSL's reason.
#pragma once

namespace fedtrain::detail {
[[noreturn]] void openssl_failed(const char* call, const char* file, int line);
}

// OpenSSL's EVP calls return 1 on success.
#define OSSL_CHECK(call)                                                   \
  do {                                                                     \
    if ((call) != 1) ::fedtrain::detail::openssl_failed(#call, __FILE__, __LINE__); \
  } while (0)
