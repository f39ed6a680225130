# Fuzz builds: -DFEDTRAIN_FUZZ=ON (Clang only) builds the libFuzzer targets of tests/fuzz/.
#
# Every C and C++ target of the project is compiled with -fsanitize=fuzzer-no-link,address,undefined
# (coverage counters for libFuzzer, ASan and UBSan, each UBSan finding fatal), so that the runtime
# library the targets call is instrumented as they are; only the fuzz targets link libFuzzer's main
# (-fsanitize=fuzzer). The libraries fedtrain links (HDF5, libxml2, zlib, OpenSSL ...) are not
# instrumented: ASan's allocator still serves them and its interceptors check their memcpy & co.
# bench/fuzz.sh configures such a build in build-fuzz/ and runs one target. Without FEDTRAIN_FUZZ,
# a test build (FEDTRAIN_BUILD_TESTS) compiles the same targets with a replay main instead
# (tests/fuzz/replay_main.cc) and ctest runs their seed corpora and regressions through them.
option(FEDTRAIN_FUZZ "Build the libFuzzer targets of tests/fuzz (Clang; every target instrumented with fuzzer-no-link, ASan and UBSan)" OFF)

if(FEDTRAIN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FEDTRAIN_FUZZ needs Clang with libFuzzer (Debian: clang, libclang-rt-dev); configure with "
                        "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++, or use bench/fuzz.sh")
  endif()
  if(FEDTRAIN_CUDA_ENABLED)
    message(FATAL_ERROR "FEDTRAIN_FUZZ builds are CPU-only: add -DFEDTRAIN_WITH_CUDA=OFF")
  endif()
  if(FEDTRAIN_SANITIZE)
    message(FATAL_ERROR "FEDTRAIN_FUZZ brings its own sanitizers (address,undefined): leave FEDTRAIN_SANITIZE empty")
  endif()
  set(_fedtrain_fuzz_flags -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer -gline-tables-only -D_GLIBCXX_ASSERTIONS)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_fedtrain_fuzz_flags}>")
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "  fuzzing      libFuzzer targets in tests/fuzz (every target with fuzzer-no-link,address,undefined)")
endif()
