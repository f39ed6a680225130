// Softmax cross-entropy and its gradient, numerically stable (max subtracted).
#include <cmath>

#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cpu {

double softmax_xent(float* dlogits, int* correct, const float* logits, const int32_t* labels, int B, int V) {
  double loss_sum = 0.0;
  int hits = 0;
  const float inv_b = 1.0f / static_cast<float>(B);
  for (int b = 0; b < B; ++b) {
    const float* z = logits + static_cast<size_t>(b) * V;
    int argmax = 0;
    for (int v = 1; v < V; ++v)
      if (z[v] > z[argmax]) argmax = v;
    const float zmax = z[argmax];
    double denom = 0.0;
    for (int v = 0; v < V; ++v) denom += std::exp(static_cast<double>(z[v] - zmax));
    const int y = labels[b];
    loss_sum += std::log(denom) - static_cast<double>(z[y] - zmax);
    hits += argmax == y;
    if (dlogits != nullptr) {
      float* d = dlogits + static_cast<size_t>(b) * V;
      for (int v = 0; v < V; ++v) {
        float p = static_cast<float>(std::exp(static_cast<double>(z[v] - zmax)) / denom);
        d[v] = (p - (v == y ? 1.0f : 0.0f)) * inv_b;
      }
    }
  }
  if (correct != nullptr) *correct = hits;
  return loss_sum;
}

}  // namespace fedtrain::kernels::cpu
