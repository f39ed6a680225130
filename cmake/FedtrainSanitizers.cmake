# Sanitizer builds: -DFEDTRAIN_SANITIZE=address,undefined,float-cast-overflow instruments every C and C++ target.
#
# The flags go to every target of the project (add_compile_options/add_link_options before the
# subdirectories), so that the runtime library, the CLI, the benchmarks and every test binary are
# instrumented alike; the libraries fedtrain links (Open MPI, HDF5, OpenSSL, OpenBLAS ...) are not,
# though ASan's allocator serves them too. Each UBSan finding ends the process with an error, so
# that it fails its test instead of scrolling by. The runtime options of the tests
# (ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS with tests/sanitizers/lsan.supp) are set by
# cmake/FedtrainTesting.cmake; docs/testing.md says how to run the suite by hand.
set(FEDTRAIN_SANITIZE "" CACHE STRING "Sanitizers for every target, as -fsanitize takes them (e.g. address,undefined); empty: none")

if(FEDTRAIN_SANITIZE)
  if(FEDTRAIN_CUDA_ENABLED)
    # ASan reserves the low address range that the CUDA driver maps (protect_shadow_gap); untested here.
    message(FATAL_ERROR "FEDTRAIN_SANITIZE=${FEDTRAIN_SANITIZE} builds are CPU-only: add -DFEDTRAIN_WITH_CUDA=OFF")
  endif()
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "FEDTRAIN_SANITIZE needs GCC or Clang (found ${CMAKE_CXX_COMPILER_ID})")
  endif()
  # -fno-sanitize-recover=all: every UBSan check (float-cast-overflow too, which GCC leaves out of
  # "undefined") ends the process. _GLIBCXX_ASSERTIONS: libstdc++'s own checks (operator[], front(),
  # back() of an empty or too short container), which ASan misses inside a vector's capacity.
  set(_fedtrain_sanitize_flags -fsanitize=${FEDTRAIN_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer
      -D_GLIBCXX_ASSERTIONS)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_fedtrain_sanitize_flags}>")
  add_link_options(-fsanitize=${FEDTRAIN_SANITIZE})
  message(STATUS "  sanitizers   ${FEDTRAIN_SANITIZE} (every target)")
endif()
