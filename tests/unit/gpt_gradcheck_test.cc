// Every backward pass of the GPT kernels against central finite differences of its forward pass.
//
// For a layer y = f(x) the test takes the scalar loss L = sum_i w_i y_i (w random, summed in double),
// runs the backward pass with dout = w into gradient buffers that start at random values g0, and compares
// g - g0 with (L(x + eps e_j) - L(x - eps e_j)) / (2 eps) for every input element x_j. Starting from g0
// also checks that each backward accumulates (+=) rather than overwrites. With eps = 1e-2 on inputs of
// order 1 the float rounding of L contributes ~1e-5 and the truncation error eps^2/6 f''' about as much,
// so |analytic - fd| <= 2e-3 + 1e-2 |fd| leaves a wide margin yet fails on any wrong term.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {
namespace {

constexpr float kEps = 1e-2f;
constexpr double kAtol = 2e-3, kRtol = 1e-2;

std::vector<float> random_vec(size_t n, std::mt19937_64& gen, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

double dot(const std::vector<float>& w, const std::vector<float>& y) {
  double s = 0.0;
  for (size_t i = 0; i < y.size(); ++i) s += static_cast<double>(w[i]) * y[i];
  return s;
}

// grad - start (the backward pass's contribution) against central differences of loss() in x.
void expect_gradient(const std::string& what, std::vector<float>& x, const std::vector<float>& grad,
                     const std::vector<float>& start, const std::function<double()>& loss) {
  ASSERT_EQ(x.size(), grad.size());
  ASSERT_EQ(x.size(), start.size());
  int bad = 0;
  for (size_t j = 0; j < x.size(); ++j) {
    const float x0 = x[j];
    x[j] = x0 + kEps;
    const double up = loss();
    x[j] = x0 - kEps;
    const double down = loss();
    x[j] = x0;
    const double fd = (up - down) / (2.0 * static_cast<double>(kEps));
    const double analytic = static_cast<double>(grad[j]) - start[j];
    if (!(std::abs(analytic - fd) <= kAtol + kRtol * std::abs(fd))) {
      ADD_FAILURE() << what << "[" << j << "]: backward " << analytic << ", finite differences " << fd;
      if (++bad == 5) return;  // enough to see the pattern
    }
  }
}

TEST(GptGradcheck, Embedding) {
  std::mt19937_64 gen(11);
  const int B = 2, T = 5, C = 8, V = 11;
  std::vector<int32_t> tokens = {3, 7, 3, 0, 10, 3, 3, 1, 7, 2};  // repeats: the scatter must add them up
  auto wte = random_vec(size_t(V) * C, gen), wpe = random_vec(size_t(T) * C, gen);
  auto w = random_vec(size_t(B) * T * C, gen);
  std::vector<float> out(w.size());
  auto loss = [&] {
    embedding_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
    return dot(w, out);
  };
  auto dwte0 = random_vec(wte.size(), gen), dwpe0 = random_vec(wpe.size(), gen);
  auto dwte = dwte0, dwpe = dwpe0;
  embedding_backward(dwte.data(), dwpe.data(), w.data(), tokens.data(), B, T, C, V);
  expect_gradient("dwte", wte, dwte, dwte0, loss);
  expect_gradient("dwpe", wpe, dwpe, dwpe0, loss);
}

TEST(GptGradcheck, LayerNorm) {
  std::mt19937_64 gen(12);
  const int N = 10, C = 8;
  auto inp = random_vec(size_t(N) * C, gen), weight = random_vec(C, gen), bias = random_vec(C, gen);
  auto w = random_vec(inp.size(), gen);
  std::vector<float> out(inp.size()), mean(N), rstd(N);
  auto loss = [&] {
    layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), weight.data(), bias.data(), N, C);
    return dot(w, out);
  };
  loss();  // mean and rstd for the backward pass
  auto dinp0 = random_vec(inp.size(), gen), dw0 = random_vec(C, gen), db0 = random_vec(C, gen);
  auto dinp = dinp0, dw = dw0, db = db0;
  layernorm_backward(dinp.data(), dw.data(), db.data(), w.data(), inp.data(), weight.data(), mean.data(), rstd.data(),
                     N, C);
  expect_gradient("dinp", inp, dinp, dinp0, loss);
  expect_gradient("dweight", weight, dw, dw0, loss);
  expect_gradient("dbias", bias, db, db0, loss);
}

TEST(GptGradcheck, MatmulWithAndWithoutBias) {
  std::mt19937_64 gen(13);
  const int N = 10, C = 8, OC = 11;
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "with bias" : "without bias");
    auto inp = random_vec(size_t(N) * C, gen), weight = random_vec(size_t(OC) * C, gen), bias = random_vec(OC, gen);
    auto w = random_vec(size_t(N) * OC, gen);
    std::vector<float> out(w.size());
    auto loss = [&] {
      matmul_forward(out.data(), inp.data(), weight.data(), with_bias ? bias.data() : nullptr, N, C, OC);
      return dot(w, out);
    };
    auto dinp0 = random_vec(inp.size(), gen), dw0 = random_vec(weight.size(), gen), db0 = random_vec(OC, gen);
    auto dinp = dinp0, dw = dw0, db = db0;
    matmul_backward(dinp.data(), dw.data(), with_bias ? db.data() : nullptr, w.data(), inp.data(), weight.data(), N,
                    C, OC);
    expect_gradient("dinp", inp, dinp, dinp0, loss);
    expect_gradient("dweight", weight, dw, dw0, loss);
    if (with_bias) {
      expect_gradient("dbias", bias, db, db0, loss);
    } else {
      EXPECT_EQ(db, db0);  // no bias: dbias untouched (null was passed; this is the caller's buffer)
    }
  }
}

TEST(GptGradcheck, Gelu) {
  std::mt19937_64 gen(14);
  const size_t n = 200;
  auto inp = random_vec(n, gen, -4.0f, 4.0f);  // both tails and the bend
  auto w = random_vec(n, gen);
  std::vector<float> out(n);
  auto loss = [&] {
    gelu_forward(out.data(), inp.data(), n);
    return dot(w, out);
  };
  auto dinp0 = random_vec(n, gen), dinp = dinp0;
  gelu_backward(dinp.data(), inp.data(), w.data(), n);
  expect_gradient("dinp", inp, dinp, dinp0, loss);
}

TEST(GptGradcheck, Residual) {
  std::mt19937_64 gen(15);
  const size_t n = 40;
  auto a = random_vec(n, gen), b = random_vec(n, gen), w = random_vec(n, gen);
  std::vector<float> out(n);
  auto loss = [&] {
    residual_forward(out.data(), a.data(), b.data(), n);
    return dot(w, out);
  };
  auto da0 = random_vec(n, gen), db0 = random_vec(n, gen);
  auto da = da0, db = db0;
  residual_backward(da.data(), db.data(), w.data(), n);
  expect_gradient("da", a, da, da0, loss);
  expect_gradient("db", b, db, db0, loss);
}

// T = 5 fits in one block of query rows; T = 70 takes full blocks and a partial one, so the
// products that skip the masked triangle are checked across block boundaries too.
TEST(GptGradcheck, Attention) {
  std::mt19937_64 gen(16);
  struct Shape {
    int B, T, C, H;
  };
  for (Shape s : {Shape{2, 5, 8, 2}, Shape{1, 70, 8, 2}, Shape{1, 9, 12, 3}}) {
    SCOPED_TRACE("B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " C=" + std::to_string(s.C) +
                 " H=" + std::to_string(s.H));
    auto qkv = random_vec(size_t(s.B) * s.T * 3 * s.C, gen, -2.0f, 2.0f);  // peaked enough to matter
    auto w = random_vec(size_t(s.B) * s.T * s.C, gen);
    std::vector<float> out(w.size()), att(size_t(s.B) * s.H * s.T * s.T);
    auto loss = [&] {
      attention_forward(out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.H);
      return dot(w, out);
    };
    loss();
    auto dqkv0 = random_vec(qkv.size(), gen), dqkv = dqkv0;
    std::vector<float> scratch(att.size(), NAN);  // the backward pass must not read what it did not write
    attention_backward(dqkv.data(), scratch.data(), w.data(), qkv.data(), att.data(), s.B, s.T, s.C, s.H);
    expect_gradient("dqkv", qkv, dqkv, dqkv0, loss);
  }
}

// The gradient of the mean loss, which softmax_xent writes (it does not accumulate).
TEST(GptGradcheck, SoftmaxCrossEntropy) {
  std::mt19937_64 gen(17);
  const int N = 10, V = 11;
  auto logits = random_vec(size_t(N) * V, gen, -3.0f, 3.0f);
  std::vector<int32_t> targets(N);
  for (int32_t& y : targets) y = static_cast<int32_t>(gen() % V);
  auto loss = [&] { return softmax_xent(nullptr, nullptr, logits.data(), targets.data(), N, V) / N; };
  std::vector<float> dlogits(logits.size(), NAN), zero(logits.size(), 0.0f);
  softmax_xent(dlogits.data(), nullptr, logits.data(), targets.data(), N, V);
  expect_gradient("dlogits", logits, dlogits, zero, loss);
}

}  // namespace
}  // namespace fedtrain::kernels::cpu
