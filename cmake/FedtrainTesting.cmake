# Test helpers, one test executable per test file, all registered with ctest:
#   fedtrain_add_test(NAME SOURCES...)           a GoogleTest binary, one process
#   fedtrain_add_mpi_test(NAME NP SOURCES...)    a GoogleTest binary under mpiexec -n NP
#   fedtrain_add_mpi_test_sizes(NAME SIZES 2 3 .. SOURCES ...)  the same binary under several -n
#   fedtrain_add_script_test(NAME SCRIPT [NO_MPI]) a bash script that drives the fedtrain CLI; exit 77 = skipped;
#                                                NO_MPI: it starts no MPI job (faster under sanitizers)
#   fedtrain_add_gpu_test(NAME [NP N] SOURCES...) a GoogleTest binary that needs a GPU (CUDA builds only):
#                                                one process, or N under mpiexec; without a GPU every
#                                                test skips itself (tests/cuda/gpu_test.h) and ctest
#                                                reports the executable as Skipped
find_package(GTest REQUIRED)

# Open MPI as root, and more ranks than cores, without flags on every command line.
set(FEDTRAIN_TEST_ENV
  "OMPI_ALLOW_RUN_AS_ROOT=1"
  "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
  "OMPI_MCA_rmaps_base_oversubscribe=1"
  "OPENBLAS_NUM_THREADS=1")

# Sanitizer builds (cmake/FedtrainSanitizers.cmake): every test runs with these runtime options;
# child processes (mpiexec's ranks, the fedtrain CLI under the e2e scripts) inherit them.
#   exitcode=86        a sanitizer report exits 86, a code fedtrain never uses, so that a test
#                      expecting exit 1 or 2 cannot mistake a report for the error it provoked
#   detect_leaks=1     LeakSanitizer at exit, with tests/sanitizers/lsan.supp (other libraries' leaks)
#   UBSan              halt_on_error (the build has -fno-sanitize-recover=undefined as well)
# Where Open MPI runs (FEDTRAIN_MPI_TEST_ENV: the mpi_ tests, the e2e scripts that start MPI jobs),
# ASan records whole allocation stacks (fast_unwind_on_malloc=0): Open MPI's leaks are allocated in
# components that MPI_Finalize unloads, so only the frames of libmpi, libopen-pal, libopen-rte and
# libevent further up, which the fast frame-pointer unwinder cannot reach, name them for lsan.supp.
# That costs 3-10x in allocation-heavy code, so the other tests keep the fast unwinder.
set(FEDTRAIN_MPI_TEST_ENV ${FEDTRAIN_TEST_ENV})
if(FEDTRAIN_SANITIZE)
  set(_fedtrain_asan_options "exitcode=86:detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1")
  set(_fedtrain_sanitizer_env
    "UBSAN_OPTIONS=exitcode=86:print_stacktrace=1:halt_on_error=1:report_error_type=1"
    "LSAN_OPTIONS=exitcode=86:suppressions=${PROJECT_SOURCE_DIR}/tests/sanitizers/lsan.supp:print_suppressions=0")
  list(APPEND FEDTRAIN_MPI_TEST_ENV ${_fedtrain_sanitizer_env} "ASAN_OPTIONS=${_fedtrain_asan_options}:fast_unwind_on_malloc=0")
  list(APPEND FEDTRAIN_TEST_ENV ${_fedtrain_sanitizer_env} "ASAN_OPTIONS=${_fedtrain_asan_options}")
endif()

function(fedtrain_add_test NAME)
  add_executable(${NAME} ${ARGN})
  target_link_libraries(${NAME} PRIVATE fedtrain_test_support GTest::gtest_main fedtrain::warnings)
  add_test(NAME ${NAME} COMMAND ${NAME})
  set_tests_properties(${NAME} PROPERTIES ENVIRONMENT "${FEDTRAIN_TEST_ENV}" TIMEOUT 300)
endfunction()

function(fedtrain_add_mpi_test NAME NP)
  add_executable(${NAME} ${ARGN})
  target_link_libraries(${NAME} PRIVATE fedtrain_test_support fedtrain_mpi_test_main GTest::gtest fedtrain::warnings)
  add_test(NAME ${NAME} COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${NP} $<TARGET_FILE:${NAME}>)
  set_tests_properties(${NAME} PROPERTIES ENVIRONMENT "${FEDTRAIN_MPI_TEST_ENV}" PROCESSORS ${NP} TIMEOUT 300)
endfunction()

# One binary under several world sizes: NAME_np2, NAME_np3, ...
function(fedtrain_add_mpi_test_sizes NAME)
  cmake_parse_arguments(ARG "" "" "SIZES;SOURCES" ${ARGN})
  add_executable(${NAME} ${ARG_SOURCES})
  target_link_libraries(${NAME} PRIVATE fedtrain_test_support fedtrain_mpi_test_main GTest::gtest fedtrain::warnings)
  foreach(np IN LISTS ARG_SIZES)
    add_test(NAME ${NAME}_np${np} COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} $<TARGET_FILE:${NAME}>)
    set_tests_properties(${NAME}_np${np} PROPERTIES ENVIRONMENT "${FEDTRAIN_MPI_TEST_ENV}" PROCESSORS ${np} TIMEOUT 300)
  endforeach()
endfunction()

function(fedtrain_add_script_test NAME SCRIPT)
  cmake_parse_arguments(ARG "NO_MPI" "" "ARGS" ${ARGN})
  if(ARG_NO_MPI)
    set(env ${FEDTRAIN_TEST_ENV})
  else()
    set(env ${FEDTRAIN_MPI_TEST_ENV})
  endif()
  add_test(NAME ${NAME} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${SCRIPT} ${ARG_ARGS})
  set_tests_properties(${NAME} PROPERTIES
    ENVIRONMENT "${env};FEDTRAIN_BIN=$<TARGET_FILE:fedtrain>;FEDTRAIN_SOURCE_DIR=${PROJECT_SOURCE_DIR};MPIEXEC=${MPIEXEC_EXECUTABLE}"
    PROCESSORS 2 TIMEOUT 600 SKIP_RETURN_CODE 77)
endfunction()

function(fedtrain_add_gpu_test NAME)
  cmake_parse_arguments(GPU "" "NP" "" ${ARGN})
  if(GPU_NP)
    fedtrain_add_mpi_test(${NAME} ${GPU_NP} ${GPU_UNPARSED_ARGUMENTS})
  else()
    fedtrain_add_test(${NAME} ${GPU_UNPARSED_ARGUMENTS})
  endif()
  target_link_libraries(${NAME} PRIVATE fedtrain_kernels_cuda)
  set_tests_properties(${NAME} PROPERTIES SKIP_REGULAR_EXPRESSION "fedtrain: GPU test skipped" LABELS gpu)
endfunction()
