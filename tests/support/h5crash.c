/* LD_PRELOAD shim for tests: H5Fopen() of a file whose path contains FEDTRAIN_H5CRASH_MATCH dies of
   SIGSEGV, as libhdf5 1.10.8 does on some malformed files (docs/security.md); any other file is
   opened by the real H5Fopen. Lets tests/e2e/ckpt_hdf5_crash.sh show that 'fedtrain ckpt' survives
   a crash inside libhdf5 without depending on one HDF5 bug's memory layout. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int64_t hid_t;

hid_t H5Fopen(const char* name, unsigned flags, hid_t fapl) {
  const char* match = getenv("FEDTRAIN_H5CRASH_MATCH");
  if (match != NULL && *match != '\0' && strstr(name, match) != NULL) raise(SIGSEGV);
  hid_t (*real)(const char*, unsigned, hid_t) = (hid_t(*)(const char*, unsigned, hid_t))dlsym(RTLD_NEXT, "H5Fopen");
  return real(name, flags, fapl);
}
