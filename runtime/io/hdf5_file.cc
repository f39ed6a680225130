// RAII over the HDF5 C API.
#include "runtime/io/hdf5_file.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

// Keep HDF5's automatic error printing off stderr; errors are reported through Error.
void quiet_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

herr_t innermost(unsigned n, const H5E_error2_t* e, void* out) {
  if (n == 0) *static_cast<std::string*>(out) = e->desc ? e->desc : "";
  return 0;
}

hid_t native(H5Type t) {
  switch (t) {
    case H5Type::kFloat32: return H5T_NATIVE_FLOAT;
    case H5Type::kInt32: return H5T_NATIVE_INT32;
    case H5Type::kInt64: return H5T_NATIVE_INT64;
  }
  return H5T_NATIVE_FLOAT;
}
hid_t file_type(H5Type t) {
  switch (t) {
    case H5Type::kFloat32: return H5T_IEEE_F32LE;
    case H5Type::kInt32: return H5T_STD_I32LE;
    case H5Type::kInt64: return H5T_STD_I64LE;
  }
  return H5T_IEEE_F32LE;
}
const char* type_name(H5Type t) {
  switch (t) {
    case H5Type::kFloat32: return "float32";
    case H5Type::kInt32: return "int32";
    case H5Type::kInt64: return "int64";
  }
  return "?";
}
size_t type_bytes(H5Type t) { return t == H5Type::kInt64 ? 8 : 4; }

// Elements of a shape; false if the count overflows size_t.
bool element_count(const std::vector<size_t>& dims, size_t* count) {
  *count = 1;
  for (size_t d : dims)
    if (__builtin_mul_overflow(*count, d, count)) return false;
  return true;
}

// Appends every dataset reached through a hard link to the vector (op_data).
herr_t collect_dataset(hid_t group, const char* name, const H5L_info_t* info, void* out) {
  if (info->type != H5L_TYPE_HARD) return 0;
  hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
  if (obj < 0) return -1;
  const bool is_dataset = H5Iget_type(obj) == H5I_DATASET;
  H5Oclose(obj);
  if (is_dataset) static_cast<std::vector<std::string>*>(out)->push_back(std::string("/") + name);
  return 0;
}

herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

}  // namespace

std::string h5_locking_hint(const std::string& detail) {
  // HDF5 says "unable to lock file, errno = 37, error message = 'No locks available'".
  if (detail.find("unable to lock") == std::string::npos && detail.find("file locking") == std::string::npos) return "";
  return "; the file system refuses file locking (common on NFS and some parallel or network volumes): "
         "set HDF5_USE_FILE_LOCKING=FALSE in the environment of every rank (mpirun -x HDF5_USE_FILE_LOCKING=FALSE, "
         "or export it in the batch script before srun)";
}

std::string h5_last_error() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

void H5File::require_one_value(hid_t attr, const std::string& where) const {
  H5Id space(H5Aget_space(attr), H5Sclose);
  const hssize_t n = space.get() < 0 ? -1 : H5Sget_simple_extent_npoints(space.get());
  if (n < 0) fail("cannot read the shape of " + where);
  if (n != 1) fail(where + " holds " + std::to_string(n) + " values; it must hold one (is the file damaged or forged?)");
}

void H5File::fail(const std::string& what) const {
  std::string detail = h5_last_error();
  throw Error("HDF5 file '" + path_ + "': " + what + (detail.empty() ? "" : " (" + detail + ")"));
}

H5File H5File::open_read(const std::string& path) {
  quiet_hdf5();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error("cannot open HDF5 file '" + path + "': no such file; check the path, or create it with 'fedtrain data'");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    h5_last_error();
    throw Error("cannot open HDF5 file '" + path + "': not an HDF5 file, or truncated");
  }
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    std::string detail = h5_last_error();
    throw Error("cannot open HDF5 file '" + path + "'" + (detail.empty() ? "" : ": " + detail) + h5_locking_hint(detail));
  }
  return H5File(path, H5Id(id, H5Fclose));
}

H5File H5File::create(const std::string& path) {
  quiet_hdf5();
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) {
    std::string detail = h5_last_error();
    throw Error("cannot create HDF5 file '" + path + "'" + (detail.empty() ? "" : ": " + detail) +
                h5_locking_hint(detail));
  }
  return H5File(path, H5Id(id, H5Fclose));
}

bool H5File::has(const std::string& object) const {
  htri_t r = H5Lexists(id(), object.c_str(), H5P_DEFAULT);
  if (r < 0) h5_last_error();
  return r > 0;
}

std::vector<size_t> H5File::shape(const std::string& dataset, H5Type type) const {
  if (!has(dataset)) fail("dataset '" + dataset + "' is missing");
  H5Id ds(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) fail("cannot open dataset '" + dataset + "'");
  H5Id ft(H5Dget_type(ds.get()), H5Tclose);
  if (ft.get() < 0) fail("cannot read the type of dataset '" + dataset + "'");
  const H5T_class_t cls = H5Tget_class(ft.get());
  const size_t bytes = H5Tget_size(ft.get());
  const bool ok = (type == H5Type::kFloat32 ? cls == H5T_FLOAT : cls == H5T_INTEGER) && bytes == type_bytes(type);
  if (!ok) fail("dataset '" + dataset + "' must hold " + type_name(type));
  H5Id space(H5Dget_space(ds.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail("cannot read the shape of dataset '" + dataset + "'");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<size_t>(dims.begin(), dims.end());
}

void H5File::read_rows(const std::string& dataset, H5Type type, size_t row0, size_t rows, size_t row_count,
                       void* out) const {
  H5Id ds(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) fail("cannot open dataset '" + dataset + "'");
  H5Id space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > 2) fail("dataset '" + dataset + "' must have 1 or 2 dimensions");
  hsize_t start[2] = {row0, 0}, count[2] = {rows, row_count};
  if (H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0)
    fail("rows " + std::to_string(row0) + ".." + std::to_string(row0 + rows) + " of dataset '" + dataset +
         "' are out of range");
  hsize_t mem_dims[2] = {rows, row_count};
  H5Id mem(H5Screate_simple(rank, mem_dims, nullptr), H5Sclose);
  if (rows > 0 && H5Dread(ds.get(), native(type), mem.get(), space.get(), H5P_DEFAULT, out) < 0)
    fail("cannot read dataset '" + dataset + "' (is the file truncated or damaged?)");
}

void H5File::read_all(const std::string& dataset, H5Type type, size_t count, void* out) const {
  std::vector<size_t> dims = shape(dataset, type);
  size_t n = 0;
  if (!element_count(dims, &n)) fail("dataset '" + dataset + "' has a shape whose element count overflows");
  if (n != count)
    fail("dataset '" + dataset + "' holds " + std::to_string(n) + " elements, expected " + std::to_string(count));
  H5Id ds(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) fail("cannot open dataset '" + dataset + "'");
  if (count > 0 && H5Dread(ds.get(), native(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    fail("cannot read dataset '" + dataset + "' (is the file truncated or damaged?)");
}

H5DatasetInfo H5File::info(const std::string& dataset) const {
  if (!has(dataset)) fail("dataset '" + dataset + "' is missing");
  H5Id ds(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) fail("cannot open dataset '" + dataset + "'");
  H5Id ft(H5Dget_type(ds.get()), H5Tclose);
  H5Id space(H5Dget_space(ds.get()), H5Sclose);
  if (ft.get() < 0 || space.get() < 0) fail("cannot read the type and shape of dataset '" + dataset + "'");
  H5DatasetInfo out;
  out.element_bytes = H5Tget_size(ft.get());
  const H5T_class_t cls = H5Tget_class(ft.get());
  if (cls == H5T_FLOAT && out.element_bytes == 4) out.type = "float32";
  else if (cls == H5T_INTEGER && out.element_bytes == 4) out.type = "int32";
  else if (cls == H5T_INTEGER && out.element_bytes == 8) out.type = "int64";
  else out.type = "other";
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail("cannot read the shape of dataset '" + dataset + "'");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  out.shape.assign(dims.begin(), dims.end());
  size_t bytes = 0;
  if (!element_count(out.shape, &out.count) || __builtin_mul_overflow(out.count, out.element_bytes, &bytes))
    fail("dataset '" + dataset + "' has a shape whose size in bytes overflows");
  return out;
}

void H5File::check_stored(const std::string& dataset) const {
  const H5DatasetInfo i = info(dataset);
  H5Id ds(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) fail("cannot open dataset '" + dataset + "'");
  const hsize_t stored = H5Dget_storage_size(ds.get());
  hsize_t file_bytes = 0;
  if (H5Fget_filesize(id(), &file_bytes) < 0) fail("cannot read the size of the file");
  const std::string what = "dataset '" + dataset + "' claims " + std::to_string(i.bytes()) + " bytes of data ";
  if (stored > file_bytes)
    fail(what + "stored in " + std::to_string(stored) + " bytes, more than the file's " + std::to_string(file_bytes) +
         " (is the file truncated, damaged or forged?)");
  if (i.bytes() / kMaxStorageRatio > stored || (stored == 0 && i.bytes() > 0))
    fail(what + "but the file stores only " + std::to_string(stored) + " bytes for it, more than " +
         std::to_string(kMaxStorageRatio) + " times less than deflate can compress: the file is damaged or forged "
         "(a dataset written with another compression filter: rewrite it uncompressed, h5repack -f NONE)");
}

void H5File::read_raw(const std::string& dataset, void* out, size_t bytes) const {
  H5Id ds(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) fail("cannot open dataset '" + dataset + "'");
  H5Id ft(H5Dget_type(ds.get()), H5Tclose);
  H5Id space(H5Dget_space(ds.get()), H5Sclose);
  // The extent's product, checked (HDF5's own element count wraps for shapes past 2^64).
  const int rank = space.get() < 0 ? -1 : H5Sget_simple_extent_ndims(space.get());
  if (ft.get() < 0 || rank < 0) fail("cannot read the type and shape of dataset '" + dataset + "'");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  size_t held = 0;
  if (!element_count(std::vector<size_t>(dims.begin(), dims.end()), &held) ||
      __builtin_mul_overflow(held, H5Tget_size(ft.get()), &held) || held != bytes)
    fail("dataset '" + dataset + "' does not hold " + std::to_string(bytes) + " bytes");
  if (bytes > 0 && H5Dread(ds.get(), ft.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    fail("cannot read dataset '" + dataset + "' (is the file truncated or damaged?)");
}

std::vector<std::string> H5File::datasets() const {
  std::vector<std::string> out;
  if (H5Lvisit(id(), H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &out) < 0) fail("cannot list the datasets");
  std::sort(out.begin(), out.end());
  return out;
}

int64_t H5File::data_offset(const std::string& dataset) const {
  H5Id ds(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) fail("cannot open dataset '" + dataset + "'");
  const haddr_t offset = H5Dget_offset(ds.get());
  if (offset == HADDR_UNDEF) {
    h5_last_error();
    return -1;
  }
  return static_cast<int64_t>(offset);
}

void H5File::write(const std::string& dataset, H5Type type, const std::vector<size_t>& shape, const void* data) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H5Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  if (space.get() < 0) fail("cannot make the dataspace of '" + dataset + "'");
  H5Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(dcpl.get(), 0);
  H5Id ds(H5Dcreate2(id(), dataset.c_str(), file_type(type), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
          H5Dclose);
  if (ds.get() < 0) fail("cannot create dataset '" + dataset + "'");
  if (H5Dwrite(ds.get(), native(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot write dataset '" + dataset + "'");
}

void H5File::set_attr(const std::string& name, const std::string& value) { set_attr("/", name, value); }

void H5File::set_attr(const std::string& object, const std::string& name, const std::string& value) {
  if (value.size() > kMaxStringAttributeBytes)
    fail("attribute '" + name + "' of '" + object + "' would be " + std::to_string(value.size()) +
         " bytes; string attributes are at most 1 MiB");
  H5Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
  const char* obj = object.c_str();
  if (H5Aexists_by_name(id(), obj, name.c_str(), H5P_DEFAULT) > 0) H5Adelete_by_name(id(), obj, name.c_str(), H5P_DEFAULT);
  H5Id attr(H5Acreate_by_name(id(), obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Aclose);
  if (attr.get() < 0 || H5Awrite(attr.get(), type.get(), value.empty() ? "" : value.data()) < 0)
    fail("cannot write attribute '" + name + "' of '" + object + "'");
}

void H5File::set_attr(const std::string& name, int64_t value) {
  H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(id(), name.c_str()) > 0) H5Adelete(id(), name.c_str());
  H5Id attr(H5Acreate2(id(), name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (attr.get() < 0 || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0)
    fail("cannot write attribute '" + name + "'");
}

void H5File::set_attr(const std::string& name, double value) {
  H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
  if (H5Aexists(id(), name.c_str()) > 0) H5Adelete(id(), name.c_str());
  H5Id attr(H5Acreate2(id(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (attr.get() < 0 || H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value) < 0)
    fail("cannot write attribute '" + name + "'");
}

bool H5File::has_attr(const std::string& name) const { return has_attr("/", name); }

bool H5File::has_attr(const std::string& object, const std::string& name) const {
  htri_t r = H5Aexists_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT);
  if (r < 0) h5_last_error();
  return r > 0;
}

std::string H5File::attr_string(const std::string& name) const { return attr_string("/", name); }

std::string H5File::attr_string(const std::string& object, const std::string& name) const {
  const std::string where = object == "/" ? "attribute '" + name + "'" : "attribute '" + name + "' of '" + object + "'";
  if (!has_attr(object, name)) fail(where + " is missing");
  H5Id attr(H5Aopen_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (attr.get() < 0) fail("cannot open " + where);
  H5Id type(H5Aget_type(attr.get()), H5Tclose);
  if (type.get() < 0 || H5Tget_class(type.get()) != H5T_STRING) fail(where + " must be a string");
  require_one_value(attr.get(), where);
  const std::string too_long = " bytes; string attributes are at most 1 MiB (is the file damaged or forged?)";
  if (H5Tis_variable_str(type.get()) > 0) {
    char* s = nullptr;
    H5Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    if (H5Aread(attr.get(), mem.get(), &s) < 0) fail("cannot read " + where);
    const size_t len = s ? std::strlen(s) : 0;
    if (len > kMaxStringAttributeBytes) {
      H5free_memory(s);
      fail(where + " is " + std::to_string(len) + too_long);
    }
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  const size_t bytes = H5Tget_size(type.get());
  if (bytes > kMaxStringAttributeBytes) fail(where + " is " + std::to_string(bytes) + too_long);
  std::string out(bytes, '\0');
  if (H5Aread(attr.get(), type.get(), out.data()) < 0) fail("cannot read " + where);
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

bool H5File::attr_is_string(const std::string& object, const std::string& name) const {
  H5Id attr(H5Aopen_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (attr.get() < 0) fail("cannot open attribute '" + name + "' of '" + object + "'");
  H5Id type(H5Aget_type(attr.get()), H5Tclose);
  return type.get() >= 0 && H5Tget_class(type.get()) == H5T_STRING;
}

std::vector<std::string> H5File::attr_names(const std::string& object) const {
  std::vector<std::string> out;
  hsize_t idx = 0;
  if (H5Aiterate_by_name(id(), object.c_str(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr_name, &out,
                         H5P_DEFAULT) < 0)
    fail("cannot list the attributes of '" + object + "'");
  return out;
}

int64_t H5File::attr_int(const std::string& name) const {
  if (!has_attr(name)) fail("attribute '" + name + "' is missing");
  H5Id attr(H5Aopen(id(), name.c_str(), H5P_DEFAULT), H5Aclose);
  H5Id type(H5Aget_type(attr.get()), H5Tclose);
  if (attr.get() < 0 || type.get() < 0 || H5Tget_class(type.get()) != H5T_INTEGER)
    fail("attribute '" + name + "' must be an integer");
  require_one_value(attr.get(), "attribute '" + name + "'");
  int64_t v = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0) fail("cannot read attribute '" + name + "'");
  return v;
}

void H5File::flush() {
  if (H5Fflush(id(), H5F_SCOPE_GLOBAL) < 0) fail("flush failed");
}

void H5File::close() {
  if (file_.get() < 0) return;
  // Closed explicitly so that a failure of the final write reaches the caller.
  if (H5Fclose(file_.release()) < 0) fail("close failed (disk full?)");
}

}  // namespace fedtrain
