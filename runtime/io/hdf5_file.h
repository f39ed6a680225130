// RAII over the HDF5 C API: files, datasets and attributes, every return code checked.
//
// Every failure throws an Error that names the file and the object, with the
// innermost message of HDF5's error stack (which is otherwise kept off stderr).
//
// Files may be hostile (a checkpoint or a data shard from elsewhere), so
// nothing is read blindly: element and byte counts are computed with
// overflow checks, an attribute must hold one value, and a string attribute
// holds at most kMaxStringAttributeBytes, checked before it is read (for the
// fixed-length strings fedtrain writes; a variable-length string is read by
// HDF5 into its own memory first, bounded by the file, then checked).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fedtrain {

inline constexpr size_t kMaxStringAttributeBytes = size_t{1} << 20;  // 1 MiB, written or read
// Deflate, the compression every HDF5 build has, packs at most 1032 bytes into one; a dataset
// whose data would take more than this many times the bytes the file stores for it is damaged or
// forged (a shape of 2^40 rows in a 2 KiB file), and reading it would allocate what it claims.
inline constexpr size_t kMaxStorageRatio = 1032;

// One HDF5 identifier and the function that closes it.
class H5Id {
 public:
  H5Id() = default;
  H5Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Id() { reset(); }
  H5Id(H5Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  H5Id& operator=(H5Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  hid_t get() const { return id_; }
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }
  void reset() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

enum class H5Type { kFloat32, kInt32, kInt64 };

// What a dataset holds, whatever its type.
struct H5DatasetInfo {
  std::string type;            // "float32", "int32", "int64", or "other"
  size_t element_bytes = 0;
  std::vector<size_t> shape;
  size_t count = 0;            // elements (info() refuses a shape whose bytes overflow size_t)
  size_t bytes() const { return element_bytes * count; }
};

class H5File {
 public:
  static H5File open_read(const std::string& path);
  static H5File create(const std::string& path);  // truncates an existing file

  const std::string& path() const { return path_; }
  hid_t id() const { return file_.get(); }

  bool has(const std::string& object) const;
  // Shape of a dataset, checking that its element type is `type`.
  std::vector<size_t> shape(const std::string& dataset, H5Type type) const;
  // Rows [row0, row0+rows) of a dataset whose rows hold `row_count` elements each.
  void read_rows(const std::string& dataset, H5Type type, size_t row0, size_t rows, size_t row_count, void* out) const;
  // A whole dataset of `count` elements (its shape must hold exactly that many).
  void read_all(const std::string& dataset, H5Type type, size_t count, void* out) const;
  H5DatasetInfo info(const std::string& dataset) const;
  // Fails unless the dataset's data (info().bytes()) could come from what the file stores for it:
  // at most kMaxStorageRatio times its storage (H5Dget_storage_size), which must lie within the
  // file. Call it before allocating for a whole dataset of a file that may be hostile.
  void check_stored(const std::string& dataset) const;
  // A whole dataset's bytes exactly as stored (no conversion); `bytes` must be info().bytes().
  void read_raw(const std::string& dataset, void* out, size_t bytes) const;
  // Creates the dataset (and missing groups) contiguous, without modification
  // times, so that the same data give the same bytes.
  void write(const std::string& dataset, H5Type type, const std::vector<size_t>& shape, const void* data);
  // Every dataset in the file, as absolute paths ("/model/layers.0.weight"), in name order.
  std::vector<std::string> datasets() const;
  // Byte offset of a contiguous dataset's data in the file; -1 if it has none.
  int64_t data_offset(const std::string& dataset) const;

  // String attributes: at most kMaxStringAttributeBytes, or an Error.
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, int64_t value);
  void set_attr(const std::string& name, double value);
  bool has_attr(const std::string& name) const;
  std::string attr_string(const std::string& name) const;
  int64_t attr_int(const std::string& name) const;
  // The same on any object ("/" is the root group; "/model/layers.0.weight" a dataset).
  void set_attr(const std::string& object, const std::string& name, const std::string& value);
  bool has_attr(const std::string& object, const std::string& name) const;
  std::string attr_string(const std::string& object, const std::string& name) const;
  bool attr_is_string(const std::string& object, const std::string& name) const;
  // Names of an object's attributes, in name order.
  std::vector<std::string> attr_names(const std::string& object) const;

  void flush();
  void close();  // closes now, checking the result (the destructor cannot report)

 private:
  H5File(std::string path, H5Id file) : path_(std::move(path)), file_(std::move(file)) {}
  [[noreturn]] void fail(const std::string& what) const;
  // Fails unless attribute `attr` is a scalar or holds exactly one element (HDF5 reads every element into the buffer).
  void require_one_value(hid_t attr, const std::string& where) const;
  std::string path_;
  H5Id file_;
};

// HDF5's innermost error message, and the stack cleared; "" if none.
std::string h5_last_error();

// What to tell the user when HDF5 could not lock a file: some parallel and
// network file systems (NFS without lockd, some Lustre and Longhorn mounts)
// refuse flock(). Empty when `hdf5_detail` is not about locking.
std::string h5_locking_hint(const std::string& hdf5_detail);

}  // namespace fedtrain
