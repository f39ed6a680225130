// Hostile checkpoint files, made as an attacker would make them: any layout, datasets and attributes, every hash recomputed.
//
// The hashes of a checkpoint are unkeyed SHA-256 (docs/checkpoint-format.md):
// they find accidents, and anyone who can write a file can make them agree.
// These helpers describe an honest checkpoint as plain parts (forgeable), let
// a test or `fedtrain_forge_checkpoint` spoil it (make_hostile), and write it
// with every attribute, dataset and header hash recomputed (write_forged).
// They use the HDF5 C API directly, not the project's writer: with HDF5's
// newest file format (attributes beyond 64 KiB), shapes no honest writer
// makes, and array-valued attributes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/io/hdf5_file.h"

namespace fedtrain::testing {

// A root attribute: a string or an int64, scalar, or an array of `elements` copies of the value.
struct ForgedAttribute {
  bool is_string = true;
  std::string text;
  int64_t value = 0;
  uint64_t elements = 1;  // 1: scalar
};

struct ForgedDataset {
  std::string path;  // "/model/layers.0.weight"
  H5Type type = H5Type::kFloat32;
  std::vector<uint64_t> shape;
  std::string bytes;  // the data as stored (little-endian); empty: nothing written (chunked, HDF5 reads fill values)
};

struct ForgedCheckpoint {
  std::map<std::string, ForgedAttribute> attributes;  // root attributes, attributes_sha256 and header_sha256 excluded
  std::vector<ForgedDataset> datasets;
};

// Checkpoint `c` as parts, exactly as write_checkpoint_file would store it.
ForgedCheckpoint forgeable(const Checkpoint& c);

// Writes `f` to `path` (replaced), with a sha256 attribute on every dataset (of its `bytes`),
// attributes_sha256 over every root attribute and header_sha256, as the format describes them.
// Throws Error if HDF5 refuses.
void write_forged(const std::string& path, const ForgedCheckpoint& f);

// The hostile edits, each a finding of the checkpoint review:
//   wrapped-sum      model_layout whose tensor counts sum past 2^64 (a tensor's offset lies far outside the buffer)
//   wrapped-product  model_layout whose tensor shape multiplies past 2^64
//   huge             model_layout of 2^40 elements (4 TiB per buffer)
//   beyond-file      model_layout of 2^34 elements (64 GiB per buffer) in a file of a few KiB
//   oversized        a tensor dataset with more elements than its slot in model_layout
//   round-negative   attribute round = -5
//   round-huge       attribute round = 2^63 - 1
//   missing          dataset /optimizer/inner/steps removed
//   big-attribute    attribute config of 100 MiB
//   array-attribute  attribute round as an array of 2^20 int64 (8 MiB)
extern const std::vector<std::string> kHostileKinds;
// Applies one of kHostileKinds to `f`; throws Error for an unknown kind.
void make_hostile(ForgedCheckpoint& f, const std::string& kind);

}  // namespace fedtrain::testing
