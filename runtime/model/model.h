// The model interface: all that site trainers, the evaluator, the checkpointer and the job see of a model.
//
// A model is a parameter layout (named tensors in one flat buffer, see
// param_layout.h), an initialisation, and forward+backward of a Batch into a
// flat gradient buffer of the same layout. Implementations: Mlp (images and
// labels). make_model() in model_factory.h picks one from the config.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "runtime/model/param_layout.h"

namespace fedtrain {

// What the data layer hands a model for one step or one evaluation chunk.
// Non-owning views into the data source's buffers, valid until its next batch.
struct Batch {
  int size = 0;                     // B: images, or token windows
  const float* x = nullptr;         // images: (B, features)
  const int32_t* labels = nullptr;  // images: (B)
  const uint8_t* tokens = nullptr;  // text: (B, context + 1) bytes; inputs [0, T), targets [1, T]
  int context = 0;                  // text: T
};

struct BatchStats {
  double loss_sum = 0.0;  // summed over every scored prediction, in nats
  int64_t correct = 0;    // argmax hits (classifiers)
  int64_t samples = 0;    // scored predictions
};

class Model {
 public:
  virtual ~Model() = default;

  // "MLP 784-256-128-10 (235146 parameters)"
  virtual std::string describe() const = 0;
  virtual const ParamLayout& layout() const = 0;
  size_t param_count() const { return layout().count(); }
  // Multiply-adds of one sample's forward pass (backward costs twice that).
  virtual int64_t forward_macs_per_sample() const = 0;

  // Deterministic in `seed`: every rank that calls it with the same seed holds
  // bit-identical parameters.
  virtual void init(std::span<float> params, uint64_t seed) const = 0;
  // Writes the gradient of the mean loss over the batch into grads (same
  // layout as params, overwritten).
  virtual BatchStats forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grads) = 0;
  // Loss (and hits) only.
  virtual BatchStats evaluate(std::span<const float> params, const Batch& batch) = 0;
};

}  // namespace fedtrain
