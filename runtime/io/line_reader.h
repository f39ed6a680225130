// Reads a file of newline-terminated records in blocks, line by line, with a cap on a line's length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace fedtrain {

// Calls on_line(line, too_long, end) for every line that ends in '\n', in order: `line` without
// its newline (empty when too_long: the line had max_bytes or more, and is not kept), `end` the
// file offset just past its newline. Returns true when bytes follow the last newline (a torn
// write). A read error throws Error naming `what` and `path`.
bool read_lines(int fd, const std::string& path, const std::string& what, size_t max_bytes,
                const std::function<void(std::string& line, bool too_long, uint64_t end)>& on_line);

}  // namespace fedtrain
