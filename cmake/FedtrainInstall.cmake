# Install rules (GNUInstallDirs) and the Debian package (CPack, DEB generator).
#
#   cmake --install build [--prefix /opt/fedtrain/0.1.0]      default prefix /usr/local
#   cmake --build build --target package                       build/fedtrain_VERSION_ARCH.deb, prefix /usr
#
#   PREFIX/bin/fedtrain, PREFIX/bin/fedtrain-mpirun
#   PREFIX/share/fedtrain/slurm/*.sbatch                        batch templates
#   PREFIX/share/fedtrain/monitoring/                           Prometheus alert rules, Grafana dashboard
#   PREFIX/share/doc/fedtrain/ README.md, *.md                  the docs
#   PREFIX/share/doc/fedtrain/examples/*.ini                    the example configs
#   PREFIX/share/modules/modulefiles/fedtrain/VERSION           an Environment Modules / Lmod modulefile
#                                                               (Debian's environment-modules reads
#                                                               /usr/share/modules/modulefiles itself)
include(GNUInstallDirs)

# Keep the link directories of MPI, HDF5, OpenBLAS and CUDA that are not on the loader's default
# path in the installed binary's RUNPATH, as in the build tree.
set_target_properties(fedtrain PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS fedtrain RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS launch/fedtrain-mpirun DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES launch/slurm/fedtrain.sbatch launch/slurm/fedtrain-hetjob.sbatch launch/slurm/fedtrain-site.sbatch
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fedtrain/slurm)
install(FILES launch/monitoring/fedtrain-alerts.yml launch/monitoring/grafana-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fedtrain/monitoring)
file(GLOB _fedtrain_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES README.md ${_fedtrain_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB _fedtrain_configs ${PROJECT_SOURCE_DIR}/configs/*.ini)
install(FILES ${_fedtrain_configs} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The modulefile names the prefix it is installed under, known only at install time
# (cmake --install --prefix, or CPack's /usr): written then from launch/fedtrain.modulefile.in,
# straight into the destination (nothing is written in the build tree, so installs may run at once).
install(CODE "
  set(FEDTRAIN_VERSION \"${PROJECT_VERSION}\")
  set(FEDTRAIN_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(FEDTRAIN_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(FEDTRAIN_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
  set(FEDTRAIN_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  set(_modulefile \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/modules/modulefiles/fedtrain/${PROJECT_VERSION}\")
  message(STATUS \"Installing: \${_modulefile}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/launch/fedtrain.modulefile.in\" \"\${_modulefile}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_modulefile}\")")

# The Debian package. Library dependencies come from dpkg-shlibdeps; mpirun (for fedtrain-mpirun)
# is listed. Libraries that no Debian package ships (CUDA under /usr/local/cuda) are searched as
# private libraries, so that dpkg-shlibdeps does not stop at them: a CUDA site installs its toolkit.
set(FEDTRAIN_PACKAGE_MAINTAINER "fedtrain maintainers <fedtrain@invalid>" CACHE STRING "Maintainer field of the Debian package")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fedtrain)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${FEDTRAIN_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "federated training runtime for HPC clusters (MPI, secure aggregation)")
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
       "Several sites (clusters of different organisations) train one model together: ranks inside\n"
       "a site train data-parallel; only the site leaders exchange model updates, masked and\n"
       "encrypted. Launched with mpirun or Slurm; fedtrain-mpirun, batch templates, monitoring files\n"
       "and an Environment Modules modulefile included.")
if(FEDTRAIN_BUILD_TESTS)
  string(APPEND CPACK_DEBIAN_PACKAGE_DESCRIPTION
         "\nTEST BUILD: compiled with test-only fault injection (--inject); never deploy it.")
endif()
if(FEDTRAIN_SANITIZE)
  string(APPEND CPACK_DEBIAN_PACKAGE_DESCRIPTION
         "\nSANITIZER BUILD (${FEDTRAIN_SANITIZE}): slow, for testing only.")
endif()
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "openmpi-bin")
if(FEDTRAIN_CUDA_ENABLED AND CUDAToolkit_LIBRARY_DIR)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CUDAToolkit_LIBRARY_DIR})
endif()
include(CPack)
