# Test helpers, one test executable per test file, all registered with ctest:
#   fedtrain_add_test(NAME SOURCES...)           a GoogleTest binary, one process
#   fedtrain_add_mpi_test(NAME NP SOURCES...)    a GoogleTest binary under mpiexec -n NP
#   fedtrain_add_mpi_test_sizes(NAME SIZES 2 3 .. SOURCES ...)  the same binary under several -n
#   fedtrain_add_script_test(NAME SCRIPT)        a bash script that drives the fedtrain CLI; exit 77 = skipped
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
  set_tests_properties(${NAME} PROPERTIES ENVIRONMENT "${FEDTRAIN_TEST_ENV}" PROCESSORS ${NP} TIMEOUT 300)
endfunction()

# One binary under several world sizes: NAME_np2, NAME_np3, ...
function(fedtrain_add_mpi_test_sizes NAME)
  cmake_parse_arguments(ARG "" "" "SIZES;SOURCES" ${ARGN})
  add_executable(${NAME} ${ARG_SOURCES})
  target_link_libraries(${NAME} PRIVATE fedtrain_test_support fedtrain_mpi_test_main GTest::gtest fedtrain::warnings)
  foreach(np IN LISTS ARG_SIZES)
    add_test(NAME ${NAME}_np${np} COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} $<TARGET_FILE:${NAME}>)
    set_tests_properties(${NAME}_np${np} PROPERTIES ENVIRONMENT "${FEDTRAIN_TEST_ENV}" PROCESSORS ${np} TIMEOUT 300)
  endforeach()
endfunction()

function(fedtrain_add_script_test NAME SCRIPT)
  add_test(NAME ${NAME} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${SCRIPT})
  set_tests_properties(${NAME} PROPERTIES
    ENVIRONMENT "${FEDTRAIN_TEST_ENV};FEDTRAIN_BIN=$<TARGET_FILE:fedtrain>;FEDTRAIN_SOURCE_DIR=${PROJECT_SOURCE_DIR};MPIEXEC=${MPIEXEC_EXECUTABLE}"
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
