// One checkpoint file in plain HDF5, with a SHA-256 for every part.
#include "runtime/checkpoint/checkpoint_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <new>
#include <stdexcept>
#include <sstream>
#include <thread>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/crypto/sha256.h"
#include "runtime/io/durable.h"
#include "runtime/io/hdf5_file.h"

namespace fedtrain {

// Dataset hashes are taken over host buffers at write time and over the bytes
// as stored (little-endian) at read time: the same bytes only on a
// little-endian host. A big-endian port must swap before hashing.
static_assert(std::endian::native == std::endian::little, "checkpoint hashes assume a little-endian host");

namespace {

// The root attributes every checkpoint has, covered by attributes_sha256.
const char* const kRequiredAttributes[] = {"format", "format_version", "job_id",   "round", "attempt",
                                           "config", "manifest_sha256", "site",    "sites", "model_layout"};

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next - pos));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

std::string hex_sha256(const void* data, size_t bytes) { return to_hex(sha256(data, bytes)); }

// The hash of one attribute's value, with its kind, so that "1" and 1 differ.
std::string attribute_hash(const H5File& f, const std::string& name) {
  std::string canonical;
  if (f.attr_is_string("/", name)) canonical = "s:" + f.attr_string(name);
  else canonical = "i:" + std::to_string(f.attr_int(name));
  return hex_sha256(canonical.data(), canonical.size());
}

// The header hash: the attribute record plus every dataset's path and recorded hash, in path order.
std::string header_hash(const std::string& attribute_record, const std::map<std::string, std::string>& dataset_hashes) {
  Sha256 h;
  h.update(attribute_record.data(), attribute_record.size());
  for (const auto& [path, sha] : dataset_hashes) {
    const std::string line = "\n" + path + " " + sha;
    h.update(line.data(), line.size());
  }
  return to_hex(h.finish());
}

// One dataset to write: where, what, and the host bytes.
struct Item {
  std::string path;
  H5Type type;
  std::vector<size_t> shape;
  const void* data;
  size_t bytes;
};

[[noreturn]] void damaged(const std::string& path, const std::string& what) {
  throw Error("checkpoint '" + path + "': " + what);
}

// Creates `path` empty with mode 0600 (replacing any file of that name), so
// that not one byte of it is ever readable by others, whatever the umask: a
// checkpoint holds the site's own optimizer state. HDF5 then opens it with
// O_TRUNC, which keeps the mode; rename keeps it too.
void create_owner_only(const std::string& path) {
  auto fail = [&](const std::string& what) {
    const int err = errno;
    throw Error("cannot " + what + " checkpoint '" + path + "': " + std::strerror(err));
  };
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail("replace");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) fail("create");
  // A umask can only clear bits of 0600 (0277 would leave 0400): set it exactly.
  const int rc = ::fchmod(fd, 0600);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) fail("set the mode of");
}

// The reader never allocates more than the file holds: every float buffer it
// fills is stored whole in the file (contiguous, uncompressed), so a layout
// that asks for more memory than the file's size is damaged or forged, and is
// refused before the allocation (which could otherwise take all of a host's
// memory on a file of a few KiB).
class AllocationBudget {
 public:
  AllocationBudget(const std::string& path, size_t file_bytes) : path_(path), left_(file_bytes), file_(file_bytes) {}
  void take(size_t count, const std::string& what) {
    const size_t bytes = count * sizeof(float);  // count <= kMaxLayoutCount: no overflow
    if (bytes > left_)
      damaged(path_, what + " has " + std::to_string(count) + " elements (" + std::to_string(bytes) +
                         " bytes), more than the " + std::to_string(file_) + " bytes of the file hold");
    left_ -= bytes;
  }

 private:
  const std::string& path_;
  size_t left_, file_;
};

}  // namespace

std::string layout_text(const ParamLayout& layout) {
  std::string out;
  for (const TensorInfo& t : layout.tensors()) {
    std::string dims;
    for (size_t d : t.shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    out += (out.empty() ? "" : ",") + t.name + ":" + dims;
  }
  return out;
}

ParamLayout parse_layout_text(const std::string& text, const std::string& where) {
  ParamLayout layout;
  for (const std::string& item : split(text, ',')) {
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0) throw Error(where + ": model layout entry '" + item + "' is not name:shape");
    const std::string name = item.substr(0, colon);
    if (name.find('/') != std::string::npos)
      throw Error(where + ": model layout entry '" + item + "' has a '/' in its name (names become dataset paths)");
    std::vector<size_t> shape;
    for (const std::string& d : split(item.substr(colon + 1), 'x')) {
      // Digits only (strtoull would take "-1" as 2^64-1); a value past 2^64 saturates and fails the cap below.
      const unsigned long long v = std::strtoull(d.c_str(), nullptr, 10);
      if (d.empty() || d.find_first_not_of("0123456789") != std::string::npos || v == 0)
        throw Error(where + ": model layout entry '" + item + "' has a bad shape");
      shape.push_back(static_cast<size_t>(v));
    }
    if (shape.empty()) throw Error(where + ": model layout entry '" + item + "' has no shape");
    try {
      layout.add(name, shape);  // checked: no count wraps, at most kMaxLayoutCount elements
    } catch (const Error& e) {
      throw Error(where + ": model_layout: " + e.what());
    }
  }
  if (layout.tensors().empty()) throw Error(where + ": the model layout is empty");
  return layout;
}

void write_checkpoint_file(const std::string& path, const Checkpoint& ckpt, const WriteProgress& progress) {
  const ParamLayout layout = parse_layout_text(ckpt.model_layout, "checkpoint '" + path + "'");
  if (ckpt.round < 1 || ckpt.round > kMaxCheckpointRound || ckpt.attempt < 0 || ckpt.attempt > kMaxCheckpointRound)
    throw Error("checkpoint '" + path + "': round " + std::to_string(ckpt.round) + ", attempt " +
                std::to_string(ckpt.attempt) + " is out of range");
  FT_CHECK(ckpt.model.size() == layout.count());

  std::vector<Item> items;
  auto add_tensors = [&](const std::string& group, const std::vector<float>& flat) {
    FT_CHECK(flat.size() == layout.count(), group);
    for (const TensorInfo& t : layout.tensors())
      items.push_back({group + "/" + t.name, H5Type::kFloat32, t.shape, flat.data() + t.offset, t.count * sizeof(float)});
  };
  add_tensors("/model", ckpt.model);
  for (const NamedBuffer& b : ckpt.inner) add_tensors("/optimizer/inner/" + b.name, b.data);
  items.push_back({"/optimizer/inner/steps", H5Type::kInt64, {1}, &ckpt.inner_steps, sizeof(int64_t)});
  for (const NamedBuffer& b : ckpt.outer) add_tensors("/optimizer/outer/" + b.name, b.data);
  static_assert(sizeof(LoaderPosition) == 2 * sizeof(int64_t));
  for (size_t r = 0; r < ckpt.data.size(); ++r)
    items.push_back({"/data/" + std::to_string(r), H5Type::kInt64, {2}, &ckpt.data[r], sizeof(LoaderPosition)});

  // Hash on other threads (1 to 4, a core left to the writer) while this one
  // writes and flushes: SHA-256 runs at about 1.4 GB/s per core, about as
  // fast as a disk takes the bytes. The disk starts on each dataset as soon
  // as it is written (EarlyWriteback), so the flush overlaps the hashing too.
  // The jthreads join on every way out of this block, a throwing write included.
  std::vector<std::string> digests(items.size());
  {
    std::atomic<size_t> next{0};
    const unsigned hashers = std::clamp(std::thread::hardware_concurrency(), 2u, 5u) - 1;  // a core left to the writer
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < hashers; ++t) {
      pool.emplace_back([&] {
        for (size_t i = next++; i < items.size(); i = next++) digests[i] = hex_sha256(items[i].data, items[i].bytes);
      });
    }
    create_owner_only(path);
    H5File f = H5File::create(path);  // truncates the empty file: its mode stays 0600
    EarlyWriteback writeback(path);
    for (size_t i = 0; i < items.size(); ++i) {
      f.write(items[i].path, items[i].type, items[i].shape, items[i].data);
      writeback.start();
      if (progress) progress(i + 1, items.size());
    }
    // The bulk of the bytes to disk while the hashes finish.
    f.flush();
    sync_file(path, /*data_only=*/true);
    for (auto& t : pool) t.join();

    std::map<std::string, std::string> dataset_hashes;
    for (size_t i = 0; i < items.size(); ++i) {
      f.set_attr(items[i].path, "sha256", digests[i]);
      dataset_hashes[items[i].path] = digests[i];
    }
    f.set_attr("format", std::string(kCheckpointFormat));
    f.set_attr("format_version", kCheckpointFormatVersion);
    f.set_attr("job_id", ckpt.job_id);
    f.set_attr("round", ckpt.round);
    f.set_attr("attempt", ckpt.attempt);
    f.set_attr("config", ckpt.config_text);
    f.set_attr("manifest_sha256", ckpt.manifest_sha256);
    f.set_attr("site", ckpt.site);
    f.set_attr("sites", join(ckpt.sites, ","));
    f.set_attr("model_layout", ckpt.model_layout);
    std::string record;
    for (const char* name : kRequiredAttributes) record += std::string(record.empty() ? "" : "\n") + name + " " + attribute_hash(f, name);
    f.set_attr("attributes_sha256", record);
    f.set_attr("header_sha256", header_hash(record, dataset_hashes));
    f.close();
  }
  sync_file(path);
}

namespace {

// 1-2. A checkpoint of a format this build reads, every attribute against its
// recorded hash. Returns the record (attributes_sha256), which the header hash covers.
std::string check_attributes(const H5File& f, const std::string& path) {
  if (!f.has_attr("format") || !f.attr_is_string("/", "format") || f.attr_string("format") != kCheckpointFormat)
    damaged(path, "not a fedtrain checkpoint (root attribute 'format' is not '" + std::string(kCheckpointFormat) + "')");
  if (!f.has_attr("attributes_sha256")) damaged(path, "attribute 'attributes_sha256' is missing");
  if (!f.has_attr("header_sha256")) damaged(path, "attribute 'header_sha256' is missing");
  const std::string record = f.attr_string("attributes_sha256");
  std::map<std::string, std::string> recorded;
  for (const std::string& line : split(record, '\n')) {
    const size_t sp = line.find(' ');
    if (sp == std::string::npos) damaged(path, "attribute 'attributes_sha256' is malformed");
    recorded[line.substr(0, sp)] = line.substr(sp + 1);
  }
  for (const char* name : kRequiredAttributes) {
    if (!f.has_attr(name)) damaged(path, "attribute '" + std::string(name) + "' is missing");
    auto it = recorded.find(name);
    if (it == recorded.end()) damaged(path, "attribute '" + std::string(name) + "' has no recorded hash in 'attributes_sha256'");
    const std::string actual = attribute_hash(f, name);
    if (actual != it->second)
      damaged(path, "attribute '" + std::string(name) + "' does not match its recorded SHA-256 (recorded " +
                        it->second.substr(0, 16) + ", computed " + actual.substr(0, 16) + "): the file is damaged");
  }
  const int64_t version = f.attr_int("format_version");
  if (version != kCheckpointFormatVersion)
    damaged(path, "format version " + std::to_string(version) + "; this fedtrain reads version " +
                      std::to_string(kCheckpointFormatVersion));
  return record;
}

// The checked attributes into `c`, the round and attempt within their range.
void read_attributes(const H5File& f, const std::string& path, Checkpoint& c) {
  c.job_id = f.attr_string("job_id");
  c.round = f.attr_int("round");
  c.attempt = f.attr_int("attempt");
  const std::string range = " to " + std::to_string(kMaxCheckpointRound);
  if (c.round < 1 || c.round > kMaxCheckpointRound)
    damaged(path, "attribute 'round' is " + std::to_string(c.round) + "; a checkpoint's round is 1" + range);
  if (c.attempt < 0 || c.attempt > kMaxCheckpointRound)
    damaged(path, "attribute 'attempt' is " + std::to_string(c.attempt) + "; an attempt is 0" + range);
  c.config_text = f.attr_string("config");
  c.manifest_sha256 = f.attr_string("manifest_sha256");
  c.site = f.attr_string("site");
  c.sites = split(f.attr_string("sites"), ',');
  c.model_layout = f.attr_string("model_layout");
}

// 3. Every dataset against its hash, read straight into its place in `c`
// (whose buffers are allocated within the file's size); 5. complete.
class DatasetReader {
 public:
  DatasetReader(H5File& f, const std::string& path, Checkpoint& c, size_t file_bytes)
      : f_(f), path_(path), c_(c), budget_(path, file_bytes),
        layout_(parse_layout_text(c.model_layout, "checkpoint '" + path + "'")) {
    budget_.take(layout_.count(), "model_layout");
    c_.model.assign(layout_.count(), 0.0f);
    for (size_t i = 0; i < layout_.tensors().size(); ++i) tensor_index_[layout_.tensor(i).name] = i;
  }

  void read(const std::string& ds) {
    if (!f_.has_attr(ds, "sha256")) damaged(path_, "dataset '" + ds + "' has no sha256 attribute");
    const std::string stored = f_.attr_string(ds, "sha256");
    const H5DatasetInfo info = f_.info(ds);
    const Place place = place_of(ds);
    if (info.type != place.type || info.shape != place.shape)
      damaged(path_, "dataset '" + ds + "' has the wrong type or shape for model_layout");
    if (info.bytes() != place.bytes)
      damaged(path_, "dataset '" + ds + "' holds " + std::to_string(info.bytes()) + " bytes; its place holds " +
                         std::to_string(place.bytes));
    f_.read_raw(ds, place.dest, place.bytes);
    const std::string actual = hex_sha256(place.dest, info.bytes());
    if (actual != stored)
      damaged(path_, "dataset '" + ds + "' does not match its SHA-256 (stored " + stored.substr(0, 16) + ", computed " +
                         actual.substr(0, 16) + "): the file is damaged");
    hashes_[ds] = stored;
  }

  const std::map<std::string, std::string>& hashes() const { return hashes_; }

  // Every tensor of every buffer, the step count, loader positions of ranks 0..n-1.
  void finish() {
    const size_t tensors = layout_.tensors().size();
    if (model_seen_ != tensors) damaged(path_, "group '/model' lacks tensors of model_layout");
    if (!have_steps_) damaged(path_, "dataset '/optimizer/inner/steps' is missing");
    if (c_.inner_steps < 0) damaged(path_, "dataset '/optimizer/inner/steps' is negative");
    for (auto& [name, flat] : inner_) {
      if (inner_seen_[name] != tensors) damaged(path_, "group '/optimizer/inner/" + name + "' lacks tensors");
      c_.inner.push_back({name, std::move(flat)});
    }
    for (auto& [name, flat] : outer_) {
      if (outer_seen_[name] != tensors) damaged(path_, "group '/optimizer/outer/" + name + "' lacks tensors");
      c_.outer.push_back({name, std::move(flat)});
    }
    if (data_.empty()) damaged(path_, "group '/data' is missing (no loader positions)");
    for (const auto& [rank, pos] : data_) {
      if (rank != c_.data.size()) damaged(path_, "dataset '/data/" + std::to_string(c_.data.size()) + "' is missing");
      c_.data.push_back(pos);
    }
  }

 private:
  // Where a dataset's bytes go, and the type and shape it must have there.
  struct Place {
    void* dest = nullptr;
    size_t bytes = 0;  // room at dest
    std::string type = "float32";
    std::vector<size_t> shape;
  };

  Place place_of(const std::string& ds) {
    const std::vector<std::string> parts = split(ds.substr(1), '/');
    if (parts.size() == 2 && parts[0] == "model") {
      ++model_seen_;
      return tensor_place(ds, c_.model, parts[1], "/model");
    }
    if (parts.size() == 3 && parts[0] == "optimizer" && parts[1] == "inner" && parts[2] == "steps") {
      have_steps_ = true;
      return {&c_.inner_steps, sizeof c_.inner_steps, "int64", {1}};
    }
    if (parts.size() == 4 && parts[0] == "optimizer" && (parts[1] == "inner" || parts[1] == "outer")) {
      auto& group = parts[1] == "inner" ? inner_ : outer_;
      auto& seen = parts[1] == "inner" ? inner_seen_ : outer_seen_;
      ++seen[parts[2]];
      return tensor_place(ds, group[parts[2]], parts[3], "/" + parts[0] + "/" + parts[1] + "/" + parts[2]);
    }
    if (parts.size() == 2 && parts[0] == "data" && !parts[1].empty() &&
        parts[1].find_first_not_of("0123456789") == std::string::npos && parts[1].size() < 9)
      return {&data_[std::stoul(parts[1])], sizeof(LoaderPosition), "int64", {2}};
    damaged(path_, "unexpected dataset '" + ds + "'");
  }

  Place tensor_place(const std::string& ds, std::vector<float>& flat, const std::string& name, const std::string& group) {
    auto it = tensor_index_.find(name);
    if (it == tensor_index_.end()) damaged(path_, "dataset '" + ds + "' is not a tensor of model_layout");
    const TensorInfo& t = layout_.tensor(it->second);
    if (flat.empty()) {
      budget_.take(layout_.count(), "group '" + group + "' of model_layout");
      flat.assign(layout_.count(), 0.0f);
    }
    // ParamLayout guarantees it; checked again because a slice written out of bounds is a heap overflow.
    if (t.offset > flat.size() || t.count > flat.size() - t.offset)
      damaged(path_, "dataset '" + ds + "' lies outside its buffer in model_layout");
    return {flat.data() + t.offset, t.count * sizeof(float), "float32", t.shape};
  }

  H5File& f_;
  const std::string& path_;
  Checkpoint& c_;
  AllocationBudget budget_;
  ParamLayout layout_;
  std::map<std::string, size_t> tensor_index_;
  std::map<std::string, std::vector<float>> inner_, outer_;
  std::map<std::string, size_t> inner_seen_, outer_seen_;
  size_t model_seen_ = 0;
  bool have_steps_ = false;
  std::map<size_t, LoaderPosition> data_;
  std::map<std::string, std::string> hashes_;
};

Checkpoint read_checked(const std::string& path) {
  H5File f = H5File::open_read(path);
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) damaged(path, "cannot read its size: " + ec.message());
  const std::string record = check_attributes(f, path);  // 1-2
  Checkpoint c;
  read_attributes(f, path, c);
  DatasetReader datasets(f, path, c, static_cast<size_t>(file_bytes));
  for (const std::string& ds : f.datasets()) datasets.read(ds);  // 3
  // 4. The header: no dataset added, removed or renamed, no hash swapped.
  if (header_hash(record, datasets.hashes()) != f.attr_string("header_sha256"))
    damaged(path, "attribute 'header_sha256' does not match the datasets and attributes (a dataset was added, "
                  "removed or renamed, or the header is damaged)");
  datasets.finish();  // 5
  return c;
}

CheckpointListing list_unchecked(const std::string& path) {
  H5File f = H5File::open_read(path);
  CheckpointListing out;
  for (const std::string& name : f.attr_names("/")) {
    out.attributes.emplace_back(name, f.attr_is_string("/", name) ? f.attr_string(name) : std::to_string(f.attr_int(name)));
  }
  for (const std::string& ds : f.datasets()) {
    CheckpointListing::Dataset d;
    d.path = ds;
    const H5DatasetInfo info = f.info(ds);
    d.type = info.type;
    d.shape = info.shape;
    d.sha256 = f.has_attr(ds, "sha256") ? f.attr_string(ds, "sha256") : "";
    d.offset_bytes = f.data_offset(ds);
    out.datasets.push_back(std::move(d));
  }
  return out;
}

// Runs `read` on `path`; the checks above make an allocation failure unlikely, and one that still happens
// (a host short of memory, a limit set by ulimit) is this file's error, not the process's end.
template <typename Read>
auto guarded(const std::string& path, Read read) {
  try {
    return read(path);
  } catch (const std::bad_alloc&) {
    damaged(path, "reading it needs more memory than this process may allocate");
  } catch (const std::length_error& e) {
    damaged(path, std::string("a size in it exceeds what this process can hold (") + e.what() + ")");
  }
}

}  // namespace

Checkpoint read_checkpoint_file(const std::string& path) { return guarded(path, read_checked); }

CheckpointListing list_checkpoint_file(const std::string& path) { return guarded(path, list_unchecked); }

}  // namespace fedtrain
