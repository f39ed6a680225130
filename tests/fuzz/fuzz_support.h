// What the fuzz targets share: an in-memory file with a path, for readers that take a path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fedtrain::fuzz {

// A memfd (no disk, no name in any directory) that readers open as /proc/self/fd/N. One per
// target, reused: each input replaces its whole content.
class MemFile {
 public:
  explicit MemFile(const char* name);
  ~MemFile();
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  // Replaces the content with `bytes` and returns the path to open.
  const std::string& hold(const uint8_t* data, size_t bytes);
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// A fresh directory under TMPDIR (or /tmp), removed with everything in it at exit.
std::string temp_dir(const char* prefix);

}  // namespace fedtrain::fuzz
