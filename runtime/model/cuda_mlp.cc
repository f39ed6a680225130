// MLP classifier forward and backward on the GPU.
#include "runtime/model/cuda_mlp.h"

#include <algorithm>

#include "kernels/cuda/kernels.h"
#include "runtime/core/check.h"

namespace fedtrain {

namespace k = kernels::cuda;

CudaMlp::CudaMlp(const Mlp& model) : model_(model) {
  // The layout holds layers.i.weight (OC, C), layers.i.bias (OC) for every layer i.
  const ParamLayout& layout = model.layout();
  FT_CHECK(layout.tensors().size() % 2 == 0 && !layout.tensors().empty());
  dims_.push_back(model.input_dim());
  for (size_t t = 0; t < layout.tensors().size(); t += 2) {
    const auto& shape = layout.tensor(t).shape;
    FT_CHECK(shape.size() == 2 && static_cast<int>(shape[1]) == dims_.back());
    dims_.push_back(static_cast<int>(shape[0]));
  }
  FT_CHECK(dims_.back() == model.classes());
}

void CudaMlp::reserve(int B) {
  if (B <= capacity_) return;
  if (capacity_ > 0) CUDA_CHECK(cudaDeviceSynchronize());  // earlier steps may still use the old buffers
  capacity_ = B;
  acts_.clear();
  size_t widest = 0;
  for (size_t i = 0; i + 1 < dims_.size(); ++i) {
    acts_.emplace_back(static_cast<size_t>(B) * dims_[i + 1]);
    widest = std::max(widest, static_cast<size_t>(dims_[i + 1]));
  }
  dlogits_ = k::DeviceBuffer<float>(static_cast<size_t>(B) * dims_.back());
  dbuf_a_ = k::DeviceBuffer<float>(static_cast<size_t>(B) * widest);
  dbuf_b_ = k::DeviceBuffer<float>(static_cast<size_t>(B) * widest);
  row_loss_ = k::DeviceBuffer<double>(B);
  row_hit_ = k::DeviceBuffer<int32_t>(B);
}

void CudaMlp::forward_backward(cudaStream_t stream, const float* params, const float* x, const int32_t* labels, int B,
                               float* grads, double* loss_sum, int64_t* correct) {
  reserve(B);
  const ParamLayout& layout = model_.layout();
  const size_t n_layers = dims_.size() - 1;
  auto at = [&](const float* base, size_t t) { return base + layout.tensor(t).offset; };
  auto at_mut = [&](float* base, size_t t) { return base + layout.tensor(t).offset; };

  // Forward: Linear -> ReLU ... -> Linear (logits).
  const float* inp = x;
  for (size_t i = 0; i < n_layers; ++i) {
    const bool last = i + 1 == n_layers;
    k::linear_forward(blas_.get(), stream, acts_[i].data(), inp, at(params, 2 * i), at(params, 2 * i + 1), B, dims_[i],
                      dims_[i + 1], last ? k::Activation::kNone : k::Activation::kRelu);
    inp = acts_[i].data();
  }
  k::softmax_xent(stream, dlogits_.data(), row_loss_.data(), row_hit_.data(), acts_.back().data(), labels, B,
                  dims_.back());
  k::accumulate_rows(stream, loss_sum, correct, row_loss_.data(), row_hit_.data(), B);

  // Backward from the logits; dout holds d(loss)/d(output of layer i).
  const float* dout = dlogits_.data();
  float* dinp_buf = dbuf_a_.data();
  for (size_t i = n_layers; i-- > 0;) {
    const float* layer_inp = i == 0 ? x : acts_[i - 1].data();
    float* dinp = i == 0 ? nullptr : dinp_buf;
    k::linear_backward(blas_.get(), stream, dinp, at_mut(grads, 2 * i), at_mut(grads, 2 * i + 1), dout, layer_inp,
                       at(params, 2 * i), B, dims_[i], dims_[i + 1]);
    if (i == 0) break;
    k::relu_backward(stream, dinp, acts_[i - 1].data(), static_cast<size_t>(B) * dims_[i]);
    dout = dinp;
    dinp_buf = dinp_buf == dbuf_a_.data() ? dbuf_b_.data() : dbuf_a_.data();
  }
}

}  // namespace fedtrain
