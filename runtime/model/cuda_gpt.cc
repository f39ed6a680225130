// The GPT of gpt.h on the GPU, through the kernels of kernels/cuda/gpt_kernels.h.
#include "runtime/model/cuda_gpt.h"

#include <string>

#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/kernels.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {

namespace k = kernels::cuda;

// The offset of tensor `name` in `layout`: Gpt names its tensors as PyTorch does (gpt.h).
size_t offset_of(const ParamLayout& layout, const std::string& name) {
  for (const TensorInfo& t : layout.tensors())
    if (t.name == name) return t.offset;
  FT_CHECK(false, "the GPT layout has no tensor '" << name << "'");
  return 0;
}

void zero(cudaStream_t s, float* p, size_t count) { CUDA_CHECK(cudaMemsetAsync(p, 0, count * sizeof(float), s)); }

void copy(cudaStream_t s, float* dst, const float* src, size_t count) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToDevice, s));
}

}  // namespace

CudaGpt::CudaGpt(const Gpt& model)
    : model_(model),
      L_(model.shape().layers),
      H_(model.shape().heads),
      D_(model.shape().dim),
      T_max_(model.shape().context) {
  const ParamLayout& layout = model.layout();
  wte_ = offset_of(layout, "wte");
  wpe_ = offset_of(layout, "wpe");
  for (int i = 0; i < L_; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    auto at = [&](const char* name) { return offset_of(layout, b + name); };
    blocks_.push_back(Block{at("ln1.weight"), at("ln1.bias"), at("attn.qkv.weight"), at("attn.qkv.bias"),
                            at("attn.proj.weight"), at("attn.proj.bias"), at("ln2.weight"), at("ln2.bias"),
                            at("mlp.fc.weight"), at("mlp.fc.bias"), at("mlp.proj.weight"), at("mlp.proj.bias")});
  }
  lnfw_ = offset_of(layout, "lnf.weight");
  lnfb_ = offset_of(layout, "lnf.bias");
  hits_ = k::DeviceBuffer<int64_t>(1);
}

void CudaGpt::reserve(int B) {
  if (B <= capacity_) return;
  if (capacity_ > 0) CUDA_CHECK(cudaDeviceSynchronize());  // earlier steps may still use the old buffers
  capacity_ = B;
  const size_t N = static_cast<size_t>(B) * T_max_, D = D_, V = GptShape::kVocab;
  const size_t att = static_cast<size_t>(B) * H_ * T_max_ * T_max_;
  acts_.clear();
  acts_.resize(L_);
  for (Acts& a : acts_) {
    for (Buffer* v : {&a.x, &a.ln1, &a.atty, &a.x_mid, &a.ln2}) *v = Buffer(N * D);
    for (Buffer* v : {&a.ln1_mean, &a.ln1_rstd, &a.ln2_mean, &a.ln2_rstd}) *v = Buffer(N);
    a.qkv = Buffer(N * 3 * D);
    a.att = Buffer(att);
    a.fch = Buffer(N * 4 * D);
    a.fch_gelu = Buffer(N * 4 * D);
  }
  for (Buffer* v : {&x_final_, &lnf_, &dres_a_, &dres_b_, &dln_, &datty_}) *v = Buffer(N * D);
  lnf_mean_ = Buffer(N);
  lnf_rstd_ = Buffer(N);
  logits_ = Buffer(N * V);
  dlogits_ = Buffer(N * V);
  dqkv_ = Buffer(N * 3 * D);
  dfch_ = Buffer(N * 4 * D);
  dfch_gelu_ = Buffer(N * 4 * D);
  dscratch_ = Buffer(att);
  row_loss_ = k::DeviceBuffer<double>(N);
  row_hit_ = k::DeviceBuffer<int32_t>(N);
}

void CudaGpt::forward(cudaStream_t s, const float* params, const int32_t* inputs, const int32_t* targets, int B,
                      int T, bool backward, double* loss_sum) {
  if (B < 1 || T < 1 || T > T_max_)
    throw Error("a batch of " + std::to_string(B) + " windows of " + std::to_string(T) +
                " bytes for a model of context " + std::to_string(T_max_));
  reserve(B);
  const int N = B * T, V = GptShape::kVocab;
  k::embedding_forward(s, acts_[0].x.data(), inputs, params + wte_, params + wpe_, B, T, D_);
  for (int l = 0; l < L_; ++l) {
    float* out = l + 1 < L_ ? acts_[l + 1].x.data() : x_final_.data();
    forward_block(s, params, l, B, T, out);
  }
  k::layernorm_forward(s, lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), x_final_.data(), params + lnfw_,
                       params + lnfb_, N, D_);
  k::matmul_forward(blas_.get(), s, logits_.data(), lnf_.data(), params + wte_, nullptr, N, D_, V);
  k::softmax_xent(s, backward ? dlogits_.data() : nullptr, row_loss_.data(), row_hit_.data(), logits_.data(), targets,
                  N, V);
  k::accumulate_rows(s, loss_sum, hits_.data(), row_loss_.data(), row_hit_.data(), N);
}

void CudaGpt::forward_block(cudaStream_t s, const float* params, size_t l, int B, int T, float* out) {
  const Block& blk = blocks_[l];
  Acts& a = acts_[l];
  const int N = B * T, D = D_;
  const size_t ND = static_cast<size_t>(N) * D;
  cublasHandle_t blas = blas_.get();
  k::layernorm_forward(s, a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), a.x.data(), params + blk.ln1w,
                       params + blk.ln1b, N, D);
  k::matmul_forward(blas, s, a.qkv.data(), a.ln1.data(), params + blk.qkvw, params + blk.qkvb, N, D, 3 * D);
  k::attention_forward(blas, s, a.atty.data(), a.att.data(), a.qkv.data(), B, T, D, H_);
  k::matmul_forward(blas, s, a.x_mid.data(), a.atty.data(), params + blk.projw, params + blk.projb, N, D, D);
  k::residual_forward(s, a.x_mid.data(), a.x_mid.data(), a.x.data(), ND);
  k::layernorm_forward(s, a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(), a.x_mid.data(), params + blk.ln2w,
                       params + blk.ln2b, N, D);
  k::matmul_forward(blas, s, a.fch.data(), a.ln2.data(), params + blk.fcw, params + blk.fcb, N, D, 4 * D);
  k::gelu_forward(s, a.fch_gelu.data(), a.fch.data(), ND * 4);
  k::matmul_forward(blas, s, out, a.fch_gelu.data(), params + blk.fcprojw, params + blk.fcprojb, N, 4 * D, D);
  k::residual_forward(s, out, out, a.x_mid.data(), ND);
}

void CudaGpt::backward(cudaStream_t s, const float* params, const int32_t* inputs, int B, int T, float* grads) {
  const int N = B * T, V = GptShape::kVocab;
  const size_t ND = static_cast<size_t>(N) * D_;
  zero(s, grads, model_.param_count());  // every backward kernel adds
  zero(s, dln_.data(), ND);
  k::matmul_backward(blas_.get(), s, dln_.data(), grads + wte_, nullptr, dlogits_.data(), lnf_.data(), params + wte_,
                     N, D_, V);
  // dres: the gradient of the residual stream at the current depth.
  float* dres = dres_a_.data();
  zero(s, dres, ND);
  k::layernorm_backward(s, dres, grads + lnfw_, grads + lnfb_, dln_.data(), x_final_.data(), params + lnfw_,
                        lnf_mean_.data(), lnf_rstd_.data(), N, D_);
  for (int l = L_ - 1; l >= 0; --l) backward_block(s, params, l, B, T, grads, dres, dres_b_.data());
  k::embedding_backward(s, grads + wte_, grads + wpe_, dres, inputs, B, T, D_, V);
}

void CudaGpt::backward_block(cudaStream_t s, const float* params, size_t l, int B, int T, float* grads, float* dres,
                             float* dnext) {
  const Block& blk = blocks_[l];
  Acts& a = acts_[l];
  const int N = B * T, D = D_;
  const size_t ND = static_cast<size_t>(N) * D;
  cublasHandle_t blas = blas_.get();
  // out = x_mid + mlp(ln2(x_mid)): dres flows to x_mid directly and through the MLP.
  copy(s, dnext, dres, ND);  // dnext: d x_mid
  zero(s, dfch_gelu_.data(), ND * 4);
  k::matmul_backward(blas, s, dfch_gelu_.data(), grads + blk.fcprojw, grads + blk.fcprojb, dres, a.fch_gelu.data(),
                     params + blk.fcprojw, N, 4 * D, D);
  zero(s, dfch_.data(), ND * 4);
  k::gelu_backward(s, dfch_.data(), a.fch.data(), dfch_gelu_.data(), ND * 4);
  zero(s, dln_.data(), ND);
  k::matmul_backward(blas, s, dln_.data(), grads + blk.fcw, grads + blk.fcb, dfch_.data(), a.ln2.data(),
                     params + blk.fcw, N, D, 4 * D);
  k::layernorm_backward(s, dnext, grads + blk.ln2w, grads + blk.ln2b, dln_.data(), a.x_mid.data(), params + blk.ln2w,
                        a.ln2_mean.data(), a.ln2_rstd.data(), N, D);
  // x_mid = x + attn(ln1(x)): d x_mid (in dnext) flows to x directly and through attention.
  copy(s, dres, dnext, ND);  // dres: d x, the block's input
  zero(s, datty_.data(), ND);
  k::matmul_backward(blas, s, datty_.data(), grads + blk.projw, grads + blk.projb, dnext, a.atty.data(),
                     params + blk.projw, N, D, D);
  zero(s, dqkv_.data(), ND * 3);
  k::attention_backward(blas, s, dqkv_.data(), dscratch_.data(), datty_.data(), a.qkv.data(), a.att.data(), B, T, D,
                        H_);
  zero(s, dln_.data(), ND);
  k::matmul_backward(blas, s, dln_.data(), grads + blk.qkvw, grads + blk.qkvb, dqkv_.data(), a.ln1.data(),
                     params + blk.qkvw, N, D, 3 * D);
  k::layernorm_backward(s, dres, grads + blk.ln1w, grads + blk.ln1b, dln_.data(), a.x.data(), params + blk.ln1w,
                        a.ln1_mean.data(), a.ln1_rstd.data(), N, D);
}

void CudaGpt::forward_backward(cudaStream_t stream, const float* params, const int32_t* inputs,
                               const int32_t* targets, int B, int T, float* grads, double* loss_sum) {
  forward(stream, params, inputs, targets, B, T, /*backward=*/true, loss_sum);
  backward(stream, params, inputs, B, T, grads);
}

void CudaGpt::evaluate(cudaStream_t stream, const float* params, const int32_t* inputs, const int32_t* targets, int B,
                       int T, double* loss_sum) {
  forward(stream, params, inputs, targets, B, T, /*backward=*/false, loss_sum);
}

}  // namespace fedtrain
