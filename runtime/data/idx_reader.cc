// Reader for the IDX format of (Fashion-)MNIST, through zlib.
#include "runtime/data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <memory>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

// Pixels or labels of one file at most (Fashion-MNIST's training images are 47 MB): a header
// that claims more is refused before anything is allocated.
constexpr size_t kMaxIdxDataBytes = size_t{1} << 32;

class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
    if (f_ == nullptr)
      throw Error("cannot open IDX file '" + path + "'; install dataset-fashion-mnist (launch/install-deps.sh) or pass --source DIR");
  }
  ~GzReader() {
    if (f_ != nullptr) gzclose(f_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  void read(void* out, size_t bytes, const char* what) {
    auto* p = static_cast<char*>(out);
    while (bytes > 0) {
      unsigned chunk = bytes > (1u << 30) ? (1u << 30) : static_cast<unsigned>(bytes);
      int n = gzread(f_, p, chunk);
      if (n < 0) {
        int errnum = 0;
        const char* msg = gzerror(f_, &errnum);
        throw Error("IDX file '" + path_ + "': cannot read " + what + ": " + (msg ? msg : "zlib error") +
                    " (the file is damaged or truncated)");
      }
      if (n == 0)
        throw Error("IDX file '" + path_ + "' is truncated: it ends inside the " + what + "; reinstall dataset-fashion-mnist");
      p += n;
      bytes -= static_cast<size_t>(n);
    }
  }
  // `bytes` bytes into a vector that grows as they arrive (16 MiB at a time), so that a header
  // claiming more than the file holds fails as truncated, having allocated only what was there.
  std::vector<uint8_t> read_vector(size_t bytes, const char* what) {
    constexpr size_t kBlock = size_t{1} << 24;
    std::vector<uint8_t> out;
    while (out.size() < bytes) {
      const size_t at = out.size(), n = std::min(kBlock, bytes - at);
      out.resize(at + n);
      read(out.data() + at, n, what);
    }
    return out;
  }
  uint32_t read_u32(const char* what) {
    unsigned char b[4];
    read(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }
  void expect_end() {
    char extra;
    if (gzread(f_, &extra, 1) != 0)
      throw Error("IDX file '" + path_ + "' has data after its last item: is it the right file?");
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  gzFile f_;
};

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  GzReader in(path);
  const uint32_t magic = in.read_u32("header");
  if (magic != 2051)
    throw Error("IDX file '" + path + "' is not an image file (magic " + std::to_string(magic) + ", expected 2051)");
  IdxImages img;
  img.count = in.read_u32("header");
  img.rows = in.read_u32("header");
  img.cols = in.read_u32("header");
  // count < 2^32 and rows*cols <= 2^20: the product cannot wrap a 64-bit size_t.
  if (img.rows == 0 || img.cols == 0 || img.rows * img.cols > (1u << 20) || img.count > (1u << 28) ||
      img.count * img.rows * img.cols > kMaxIdxDataBytes)
    throw Error("IDX file '" + path + "' has an implausible shape " + std::to_string(img.count) + "x" +
                std::to_string(img.rows) + "x" + std::to_string(img.cols) + " (at most 2^28 images, 2^20 pixels each, " +
                std::to_string(kMaxIdxDataBytes) + " bytes in all)");
  img.pixels = in.read_vector(img.count * img.rows * img.cols, "pixel data");
  in.expect_end();
  return img;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  GzReader in(path);
  const uint32_t magic = in.read_u32("header");
  if (magic != 2049)
    throw Error("IDX file '" + path + "' is not a label file (magic " + std::to_string(magic) + ", expected 2049)");
  const uint32_t count = in.read_u32("header");
  if (count > (1u << 28)) throw Error("IDX file '" + path + "' claims an implausible " + std::to_string(count) + " labels");
  std::vector<uint8_t> labels = in.read_vector(count, "labels");
  in.expect_end();
  return labels;
}

}  // namespace fedtrain
