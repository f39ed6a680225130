/* LD_PRELOAD shim for tests: flock() fails with ENOLCK, as on a file system without lock support
   (NFS without lockd, some parallel file systems), so HDF5's file locking fails the way it does there. */
#include <errno.h>
#include <sys/file.h>

int flock(int fd, int operation) {
  (void)fd;
  (void)operation;
  errno = ENOLCK;
  return -1;
}
