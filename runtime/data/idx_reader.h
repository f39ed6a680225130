// Reader for the IDX format of (Fashion-)MNIST, gzip-compressed or plain (zlib reads both).
//
// Images: magic 2051, then N, rows, cols (big-endian u32), then N*rows*cols bytes.
// Labels: magic 2049, then N, then N bytes.
// A header is not believed beyond the data that follow it: the reader allocates as the bytes
// arrive (a 24-byte file that claims 2^28 images is truncated, not a 256 TiB allocation), and
// refuses shapes beyond 2^28 images, 2^20 pixels per image and 4 GiB in all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedtrain {

struct IdxImages {
  size_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // (count, rows*cols)
};

// Both throw Error naming the file and what is wrong (bad magic, truncated, ...).
IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path);

}  // namespace fedtrain
