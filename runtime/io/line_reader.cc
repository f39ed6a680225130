#include "runtime/io/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "runtime/core/error.h"

namespace fedtrain {

bool read_lines(int fd, const std::string& path, const std::string& what, size_t max_bytes,
                const std::function<void(std::string& line, bool too_long, uint64_t end)>& on_line) {
  std::string line;
  bool too_long = false;
  std::vector<char> block(size_t{1} << 16);
  off_t offset = 0;
  for (;;) {
    const ssize_t got = ::pread(fd, block.data(), block.size(), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error("cannot read " + what + " '" + path + "': " + std::strerror(errno));
    if (got == 0) break;
    const char* p = block.data();
    const char* end = p + got;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!too_long) {
        line.append(p, nl != nullptr ? nl : end);
        if (line.size() >= max_bytes) {
          too_long = true;
          line.clear();
        }
      }
      if (nl == nullptr) break;
      on_line(line, too_long, static_cast<uint64_t>(offset) + static_cast<uint64_t>(nl + 1 - block.data()));
      line.clear();
      too_long = false;
      p = nl + 1;
    }
    offset += got;
  }
  return !line.empty() || too_long;
}

}  // namespace fedtrain
