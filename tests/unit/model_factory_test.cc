// make_model and the config checks: which model (and so which device) a config gets. Needs no GPU.
//
// model.kind = gpt with run.device = cuda passes the config checks; where fedtrain is built with CUDA the
// factory then gives the GPU model (CudaGptModel), whose layout, initialisation and description are the CPU
// model's bit for bit, so checkpoints and the federation's exchange do not depend on the device. auto keeps
// the GPT on the CPU, and a CPU-only build gives the CPU model (plan_devices then refuses cuda, see
// tests/e2e/gpt_device.sh).
#include <gtest/gtest.h>

#include <fstream>

#include "fedtrain/features.h"
#include "runtime/core/config.h"
#include "runtime/model/gpt.h"
#include "runtime/model/mlp.h"
#include "runtime/model/model_factory.h"
#include "tests/support/test_support.h"
#if FEDTRAIN_WITH_CUDA
#include "runtime/model/cuda_gpt_model.h"
#endif

namespace fedtrain {
namespace {

const char* kGptIni = R"([run]
job_id = t
[model]
kind = gpt
layers = 2
heads = 2
dim = 32
context = 16
[federation]
secure = false
[site.es]
ranks = 1
data = train-es.h5
val = val-es.h5
[site.de]
ranks = 1
data = train-de.h5
val = val-de.h5
)";

class ModelFactory : public ::testing::Test {
 protected:
  Config gpt_config(const std::string& device) {
    const std::string p = dir_.file("gpt.ini");
    std::ofstream(p) << kGptIni;
    return load_config({"--config", p, "--run.device=" + device}, "");
  }
  testing::TempDir dir_;
};

TEST_F(ModelFactory, ConfigChecksAcceptCudaForTheGptAndKeepAutoOnTheCpu) {
  EXPECT_EQ(gpt_config("cuda").device, DeviceKind::kCuda);
  EXPECT_EQ(gpt_config("auto").device, DeviceKind::kCpu);
  EXPECT_EQ(gpt_config("cpu").device, DeviceKind::kCpu);
}

TEST_F(ModelFactory, GptOnCudaIsTheDeviceModelWithTheCpuModelsLayout) {
  const Config c = gpt_config("cuda");
  const std::unique_ptr<Model> model = make_model(c, DataShape{});
  const Gpt cpu(GptShape{2, 2, 32, 16});
#if FEDTRAIN_WITH_CUDA
  EXPECT_NE(dynamic_cast<CudaGptModel*>(model.get()), nullptr) << model->describe();
#else
  EXPECT_NE(dynamic_cast<Gpt*>(model.get()), nullptr) << model->describe();
#endif
  EXPECT_EQ(model->describe(), cpu.describe());
  EXPECT_EQ(model->forward_macs_per_sample(), cpu.forward_macs_per_sample());
  ASSERT_EQ(model->layout().tensors().size(), cpu.layout().tensors().size());
  for (size_t t = 0; t < cpu.layout().tensors().size(); ++t) {
    const TensorInfo &a = model->layout().tensor(t), &b = cpu.layout().tensor(t);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.shape, b.shape) << b.name;
    EXPECT_EQ(a.offset, b.offset) << b.name;
  }
  std::vector<float> a(cpu.param_count()), b(cpu.param_count());
  model->init(a, 11);
  cpu.init(b, 11);
  EXPECT_EQ(a, b);
}

TEST_F(ModelFactory, GptOnTheCpuAndTheMlpAreTheCpuModels) {
  const std::unique_ptr<Model> gpt = make_model(gpt_config("auto"), DataShape{});
  EXPECT_NE(dynamic_cast<Gpt*>(gpt.get()), nullptr) << gpt->describe();
  Config mlp;
  mlp.hidden = {16};
  mlp.device = DeviceKind::kCuda;  // the MLP's GPU path is the site trainer's CudaMlp; the model is the CPU one
  const std::unique_ptr<Model> m = make_model(mlp, DataShape{20, 4});
  EXPECT_NE(dynamic_cast<Mlp*>(m.get()), nullptr) << m->describe();
}

}  // namespace
}  // namespace fedtrain
