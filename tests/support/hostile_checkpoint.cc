// Hostile checkpoint files, made as an attacker would make them, every hash recomputed.
#include "tests/support/hostile_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "runtime/core/error.h"
#include "runtime/crypto/sha256.h"

namespace fedtrain::testing {
namespace {

void check(bool ok, const std::string& path, const std::string& what) {
  if (!ok) throw Error("forging '" + path + "': " + what + " (" + h5_last_error() + ")");
}

std::string hex_sha256(const std::string& bytes) { return to_hex(sha256(bytes.data(), bytes.size())); }

std::string bytes_of(const void* data, size_t bytes) { return std::string(static_cast<const char*>(data), bytes); }

ForgedAttribute text(std::string s) {
  ForgedAttribute a;
  a.text = std::move(s);
  return a;
}
ForgedAttribute number(int64_t v) {
  ForgedAttribute a;
  a.is_string = false;
  a.value = v;
  return a;
}

// A fixed-length string, or int64, attribute on `object`.
void write_attribute(hid_t object, const std::string& path, const std::string& name, const ForgedAttribute& a) {
  const hsize_t n = a.elements;
  H5Id space(a.elements == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  check(space.get() >= 0, path, "dataspace of attribute " + name);
  if (a.is_string) {
    H5Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    const size_t len = std::max<size_t>(a.text.size(), 1);
    check(H5Tset_size(type.get(), len) >= 0 && H5Tset_strpad(type.get(), H5T_STR_NULLPAD) >= 0, path, "string type");
    std::string buf(len * a.elements, '\0');
    for (uint64_t i = 0; i < a.elements; ++i) std::memcpy(buf.data() + i * len, a.text.data(), a.text.size());
    H5Id attr(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    check(attr.get() >= 0 && H5Awrite(attr.get(), type.get(), buf.data()) >= 0, path, "attribute " + name);
  } else {
    std::vector<int64_t> buf(a.elements, a.value);
    H5Id attr(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    check(attr.get() >= 0 && H5Awrite(attr.get(), H5T_NATIVE_INT64, buf.data()) >= 0, path, "attribute " + name);
  }
}

// The hash the reader computes for a root attribute: over "s:" + text or "i:" + decimal value.
std::string attribute_hash(const ForgedAttribute& a) {
  return hex_sha256(a.is_string ? "s:" + a.text : "i:" + std::to_string(a.value));
}

// Keeps only the datasets that are not tensors (steps, loader positions).
void drop_tensors(ForgedCheckpoint& f) {
  std::erase_if(f.datasets, [](const ForgedDataset& d) {
    return d.path.rfind("/model/", 0) == 0 || (d.path.rfind("/optimizer/", 0) == 0 && d.path != "/optimizer/inner/steps");
  });
}

ForgedDataset floats(const std::string& path, std::vector<uint64_t> shape, bool with_data) {
  ForgedDataset d{path, H5Type::kFloat32, std::move(shape), ""};
  if (with_data) {
    uint64_t n = 1;
    for (uint64_t s : d.shape) n *= s;
    d.bytes.assign(n * sizeof(float), '\x3f');
  }
  return d;
}

}  // namespace

const std::vector<std::string> kHostileKinds = {"wrapped-sum",    "wrapped-product", "huge",    "beyond-file",
                                                "oversized",      "round-negative",  "round-huge", "missing",
                                                "big-attribute",  "array-attribute"};

ForgedCheckpoint forgeable(const Checkpoint& c) {
  ForgedCheckpoint f;
  std::string sites;
  for (const auto& s : c.sites) sites += (sites.empty() ? "" : ",") + s;
  f.attributes = {{"format", text(kCheckpointFormat)},
                  {"format_version", number(kCheckpointFormatVersion)},
                  {"job_id", text(c.job_id)},
                  {"round", number(c.round)},
                  {"attempt", number(c.attempt)},
                  {"config", text(c.config_text)},
                  {"manifest_sha256", text(c.manifest_sha256)},
                  {"site", text(c.site)},
                  {"sites", text(sites)},
                  {"model_layout", text(c.model_layout)}};
  const ParamLayout layout = parse_layout_text(c.model_layout, "forgeable");
  auto tensors = [&](const std::string& group, const std::vector<float>& flat) {
    for (const TensorInfo& t : layout.tensors())
      f.datasets.push_back({group + "/" + t.name, H5Type::kFloat32, {t.shape.begin(), t.shape.end()},
                            bytes_of(flat.data() + t.offset, t.count * sizeof(float))});
  };
  tensors("/model", c.model);
  for (const NamedBuffer& b : c.inner) tensors("/optimizer/inner/" + b.name, b.data);
  f.datasets.push_back({"/optimizer/inner/steps", H5Type::kInt64, {1}, bytes_of(&c.inner_steps, sizeof(int64_t))});
  for (const NamedBuffer& b : c.outer) tensors("/optimizer/outer/" + b.name, b.data);
  for (size_t r = 0; r < c.data.size(); ++r)
    f.datasets.push_back({"/data/" + std::to_string(r), H5Type::kInt64, {2}, bytes_of(&c.data[r], sizeof(LoaderPosition))});
  return f;
}

void write_forged(const std::string& path, const ForgedCheckpoint& f) {
  h5_last_error();  // (clears HDF5's error stack)
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  H5Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0, path, "file format");
  H5Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  check(file.get() >= 0, path, "create");

  std::map<std::string, std::string> dataset_hashes;
  for (const ForgedDataset& d : f.datasets) {
    const std::vector<hsize_t> dims(d.shape.begin(), d.shape.end());
    H5Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    check(space.get() >= 0, path, "dataspace of " + d.path);
    H5Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    check(H5Pset_create_intermediate_group(lcpl.get(), 1) >= 0, path, "link properties");
    H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (d.bytes.empty()) {  // chunked: a shape of any size, nothing stored
      const std::vector<hsize_t> chunk(dims.size(), 1);
      check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) >= 0, path, "chunks of " + d.path);
    }
    const hid_t file_type = d.type == H5Type::kFloat32 ? H5T_IEEE_F32LE : d.type == H5Type::kInt32 ? H5T_STD_I32LE
                                                                                                  : H5T_STD_I64LE;
    H5Id ds(H5Dcreate2(file.get(), d.path.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
            H5Dclose);
    check(ds.get() >= 0, path, "dataset " + d.path);
    if (!d.bytes.empty())
      check(H5Dwrite(ds.get(), file_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.bytes.data()) >= 0, path, "data of " + d.path);
    const std::string sha = hex_sha256(d.bytes);
    write_attribute(ds.get(), path, "sha256", text(sha));
    dataset_hashes[d.path] = sha;
  }

  H5Id root(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose);
  check(root.get() >= 0, path, "root group");
  std::string record;
  for (const auto& [name, a] : f.attributes) {
    write_attribute(root.get(), path, name, a);
    record += (record.empty() ? "" : "\n") + name + " " + attribute_hash(a);
  }
  std::string header = record;
  for (const auto& [p, sha] : dataset_hashes) header += "\n" + p + " " + sha;
  write_attribute(root.get(), path, "attributes_sha256", text(record));
  write_attribute(root.get(), path, "header_sha256", text(hex_sha256(header)));
  root.reset();
  check(H5Fclose(file.release()) >= 0, path, "close");
}

void make_hostile(ForgedCheckpoint& f, const std::string& kind) {
  if (kind == "wrapped-sum") {
    // a: 2^62 + 2^40 elements, b: 16 at that offset (2^42 bytes past the buffer, as float*), c: the rest to 2^64:
    // 16 elements in all.
    const uint64_t a = (uint64_t{1} << 62) + (uint64_t{1} << 40), c = ~a + 1;
    f.attributes["model_layout"].text = "a:" + std::to_string(a) + ",b:16,c:" + std::to_string(c);
    drop_tensors(f);
    f.datasets.push_back(floats("/model/b", {16}, true));
  } else if (kind == "wrapped-product") {
    // 2^32 x 2^32 = 2^64 elements: 0 in 64 bits.
    f.attributes["model_layout"].text = "a:4294967296x4294967296,b:16";
    drop_tensors(f);
    f.datasets.push_back(floats("/model/a", {4294967296ull, 4294967296ull}, false));
    f.datasets.push_back(floats("/model/b", {16}, true));
  } else if (kind == "huge") {
    f.attributes["model_layout"].text = "a:1099511627776";
    drop_tensors(f);
    f.datasets.push_back(floats("/model/a", {uint64_t{1} << 40}, false));
  } else if (kind == "beyond-file") {
    f.attributes["model_layout"].text = "a:131072x131072";
    drop_tensors(f);
    f.datasets.push_back(floats("/model/a", {131072, 131072}, false));
  } else if (kind == "oversized") {
    for (ForgedDataset& d : f.datasets) {
      if (d.path.rfind("/model/", 0) != 0) continue;
      d.shape = {d.bytes.size() / sizeof(float) + 4096};
      d.bytes.resize(d.shape[0] * sizeof(float), '\x7f');
      break;
    }
  } else if (kind == "round-negative") {
    f.attributes["round"].value = -5;
  } else if (kind == "round-huge") {
    f.attributes["round"].value = INT64_MAX;
  } else if (kind == "missing") {
    std::erase_if(f.datasets, [](const ForgedDataset& d) { return d.path == "/optimizer/inner/steps"; });
  } else if (kind == "big-attribute") {
    f.attributes["config"].text.assign(100u << 20, '#');
  } else if (kind == "array-attribute") {
    f.attributes["round"].elements = 1u << 20;
  } else {
    throw Error("unknown hostile kind '" + kind + "'");
  }
}

}  // namespace fedtrain::testing
