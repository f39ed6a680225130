// Writing and reading text shards: /tokens uint8 [N] plus provenance attributes, through H5File.
#include "runtime/data/token_shard.h"

#include <filesystem>

#include "runtime/core/error.h"
#include "runtime/crypto/sha256.h"
#include "runtime/io/durable.h"
#include "runtime/io/hdf5_file.h"

namespace fedtrain {
namespace {

constexpr const char* kTokens = "/tokens";

// H5File knows float32/int32/int64; a byte dataset is written here with the raw
// API, contiguous and without modification times like H5File::write.
void write_bytes(H5File& f, const std::string& tokens) {
  const hsize_t dims[1] = {tokens.size()};
  H5Id space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (space.get() < 0 || dcpl.get() < 0 || H5Pset_obj_track_times(dcpl.get(), 0) < 0)
    throw Error("HDF5 file '" + f.path() + "': cannot prepare dataset " + kTokens + " (" + h5_last_error() + ")");
  H5Id ds(H5Dcreate2(f.id(), kTokens, H5T_STD_U8LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0)
    throw Error("HDF5 file '" + f.path() + "': cannot create dataset " + kTokens + " (" + h5_last_error() + ")");
  if (!tokens.empty() && H5Dwrite(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, tokens.data()) < 0)
    throw Error("HDF5 file '" + f.path() + "': cannot write dataset " + kTokens + " (" + h5_last_error() +
                "; disk full?)");
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error("'" + path + "' " + what + ": model.kind = gpt needs text from 'fedtrain data text'");
}

}  // namespace

void write_token_shard(const std::string& path, const std::string& tokens, const TokenShardAttributes& a) {
  const std::string tmp = path + ".tmp";
  try {
    H5File f = H5File::create(tmp);
    write_bytes(f, tokens);
    for (const auto& [k, v] : a.strings) f.set_attr(k, v);
    for (const auto& [k, v] : a.integers) f.set_attr(k, v);
    for (const auto& [k, v] : a.reals) f.set_attr(k, v);
    f.set_attr("sha256", to_hex(sha256(tokens.data(), tokens.size())));
    f.set_attr("bytes", static_cast<int64_t>(tokens.size()));
    f.close();
    sync_file(tmp);
    rename_durably(tmp, path);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

TokenShard read_token_shard(const std::string& path) {
  H5File f = H5File::open_read(path);
  if (!f.has(kTokens)) {
    if (f.has("/features") && f.has("/labels"))
      bad(path, "holds /features and /labels (an image dataset), not /tokens");
    bad(path, "has no dataset /tokens");
  }
  H5Id ds(H5Dopen2(f.id(), kTokens, H5P_DEFAULT), H5Dclose);
  if (ds.get() < 0) bad(path, "has a /tokens that cannot be opened (" + h5_last_error() + ")");
  H5Id type(H5Dget_type(ds.get()), H5Tclose);
  if (type.get() < 0 || H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != 1 ||
      H5Tget_sign(type.get()) != H5T_SGN_NONE)
    bad(path, "has a /tokens that is not uint8 (one unsigned byte per token)");
  const H5DatasetInfo info = f.info(kTokens);
  if (info.shape.size() != 1) bad(path, "has a /tokens of " + std::to_string(info.shape.size()) + " dimensions, not 1");
  const size_t count = info.shape[0];
  if (count < 2) bad(path, "has only " + std::to_string(count) + " tokens in /tokens (a model needs at least 2)");
  f.check_stored(kTokens);  // before the allocation of what its shape claims
  for (const char* a : {"language", "source", "source_version", "sha256"})
    if (!f.has_attr(a)) bad(path, std::string("lacks the attribute '") + a + "'");
  TokenShard s;
  s.language = f.attr_string("language");
  s.source = f.attr_string("source");
  s.source_version = f.attr_string("source_version");
  s.sha256 = f.attr_string("sha256");
  s.split = f.has_attr("split") ? f.attr_string("split") : "";
  s.tokens.resize(count);
  f.read_raw(kTokens, s.tokens.data(), count);
  const std::string actual = to_hex(sha256(s.tokens.data(), count));
  if (actual != s.sha256)
    throw Error("'" + path + "': /tokens has SHA-256 " + actual + " but its sha256 attribute says " + s.sha256 +
                ": the file is damaged or was changed; rebuild it with 'fedtrain data text'");
  return s;
}

}  // namespace fedtrain
