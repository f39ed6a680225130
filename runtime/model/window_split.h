// Token windows (Batch::tokens) as a GPT's inputs and targets: the split both devices' models make.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fedtrain {

// tokens (B, T+1) bytes -> inputs (B,T) [b,t] = window b's byte t, targets (B,T) [b,t] = its byte t+1.
inline void split_token_windows(const uint8_t* tokens, int B, int T, int32_t* inputs, int32_t* targets) {
  for (int b = 0; b < B; ++b) {
    const uint8_t* w = tokens + static_cast<size_t>(b) * (T + 1);
    for (int t = 0; t < T; ++t) {
      inputs[static_cast<size_t>(b) * T + t] = w[t];
      targets[static_cast<size_t>(b) * T + t] = w[t + 1];
    }
  }
}

}  // namespace fedtrain
