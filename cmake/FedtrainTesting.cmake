# Test helpers: fedtrain_add_test(NAME SOURCES...) and fedtrain_add_mpi_test(NAME NP SOURCES...).
find_package(GTest REQUIRED)
