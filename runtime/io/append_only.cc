// Opening a site's append-only record files.
#include "runtime/io/append_only.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/core/error.h"

namespace fedtrain {

int open_append_only(const std::string& path, const std::string& what, const std::string& key, off_t* bytes) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);  // a failure shows in open()
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) {
    const int saved = errno;
    struct stat st {};
    if (saved == ELOOP && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      throw Error(what + " '" + path + "' is a symbolic link; fedtrain does not follow links for its " + what +
                  " (a link can send the records elsewhere): set [site.NAME] " + key + " to the file itself");
    throw Error("cannot open " + what + " '" + path + "': " + std::strerror(saved) + "; set [site.NAME] " + key);
  }
  struct Closer {
    int fd;
    bool keep = false;
    ~Closer() {
      if (!keep) ::close(fd);
    }
  } guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error("cannot stat " + what + " '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(what + " '" + path + "' is not a regular file; set [site.NAME] " + key);
  // One writer per file, or the chain would interleave. File systems without
  // locks (ENOLCK, EOPNOTSUPP) go on unlocked: only a second writer is refused.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
    throw Error(what + " '" + path + "' is being written by another process (two sites or jobs with the same "
                "[site.NAME] " + key + "?)");
  *bytes = st.st_size;
  guard.keep = true;
  return fd;
}

}  // namespace fedtrain
