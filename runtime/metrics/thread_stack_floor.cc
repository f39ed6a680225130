// A floor under the stack size that libraries ask for their threads: civetweb's 100 KiB is less than cuBLAS's TLS.
//
// glibc counts the static TLS of every loaded library against a new thread's
// stack. cuBLAS and cuBLASLt bring about 106 KiB of it; civetweb, the HTTP
// server under prometheus-cpp, starts its threads with a fixed 100 KiB stack
// (not configurable in Debian's build), so in a CUDA build pthread_create
// fails with EINVAL and the Prometheus endpoint cannot start ("null context
// when constructing CivetServer"). This definition interposes
// pthread_attr_setstacksize for the whole process (the executable's symbol
// wins over libc's for every library) and raises requests below 1 MiB to
// 1 MiB; larger requests pass unchanged.
#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cstddef>

namespace {
constexpr size_t kStackFloorBytes = size_t{1} << 20;
using SetStackSize = int (*)(pthread_attr_t*, size_t);
}  // namespace

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t stack_bytes) {
  static const auto real = reinterpret_cast<SetStackSize>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  return real(attr, std::max(stack_bytes, kStackFloorBytes));
}

namespace fedtrain::detail {
// Referenced by the exporter so that the static library's linker pulls this file in.
int thread_stack_floor_anchor = 0;
}  // namespace fedtrain::detail
