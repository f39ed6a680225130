# Shared libraries carried as Debian packages, for a GPU machine without network (sourced, bash).
#
# bench/gpu-check-prepare.sh downloads (apt-get download) the packages of every
# shared library that fedtrain, its GPU tests and Open MPI (mpirun, orted and
# every MCA plugin) load, except glibc, libstdc++ and libgcc (the host's) and
# CUDA (the GPU machine's own toolkit). bench/gpu-check.sh unpacks them there.
# Both use these two functions, so what the preparation tests here is what runs there.
#
#   carried_unpack DEBS ROOT   unpack every DEBS/*.deb into ROOT (dpkg-deb -x; ar + tar without dpkg)
#   carried_env ROOT           fill the array CARRIED_ENV with VAR=value words for `env`:
#                              PATH, LD_LIBRARY_PATH (ROOT's library folders first), OPAL_PREFIX and
#                              PMIX_PREFIX and PMIX_MCA_mca_base_component_path (Open MPI and PMIx
#                              relocated into ROOT; PMIx keeps its plugin path absolute otherwise), MPIRUN
#
# Only fedtrain and mpirun get this environment (env "${CARRIED_ENV[@]}" CMD): the carried
# libraries are Debian 12's and must not replace the host's for other programs (python3).

carried_unpack() {
  local debs=$1 root=$2 deb n=0
  mkdir -p "$root"
  for deb in "$debs"/*.deb; do
    [[ -e $deb ]] || { echo "carried_unpack: no .deb files in $debs" >&2; return 1; }
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$root" || { echo "carried_unpack: cannot unpack $deb" >&2; return 1; }
    else
      local member
      member=$(ar t "$deb" | grep '^data\.tar') || { echo "carried_unpack: $deb has no data.tar" >&2; return 1; }
      ar p "$deb" "$member" | tar -x -a -f - -C "$root" 2>/dev/null ||
        ar p "$deb" "$member" | tar -x --use-compress-program=unxz -f - -C "$root" ||
        { echo "carried_unpack: cannot unpack $deb" >&2; return 1; }
    fi
    n=$((n + 1))
  done
  # Debian points some sonames at their files through update-alternatives links, which
  # dpkg-deb does not create; the library folders below are searched directly instead.
  echo "carried_unpack: $n packages into $root"
}

carried_env() {
  local root
  root=$(cd "$1" && pwd)
  local multi=$root/usr/lib/x86_64-linux-gnu
  local libs=$multi:$root/lib/x86_64-linux-gnu:$multi/openblas-pthread:$multi/pmix2/lib:$multi/openmpi/lib
  local mpirun=$root/usr/bin/mpirun.openmpi
  [[ -x $mpirun ]] || { echo "carried_env: no mpirun in $root (unpack the packages first)" >&2; return 1; }
  CARRIED_ENV=(
    "PATH=$root/usr/bin:$PATH"
    "LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    "OPAL_PREFIX=$root/usr"
    "PMIX_PREFIX=$multi/pmix2"
    "PMIX_MCA_mca_base_component_path=$multi/pmix2/lib/pmix"
    "MPIRUN=$mpirun"
  )
  MPIRUN=$mpirun
}
