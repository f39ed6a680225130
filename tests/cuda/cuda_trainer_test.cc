// The GPU site trainer against the CPU one, two ranks of one site (mpiexec -n 2; skipped without a GPU).
//
// Both trainers start from the same initial model and read the same batches,
// so after the same steps their parameters and losses agree up to rounding
// (loosely: a ReLU input within rounding of zero may be cut on one device and
// not the other, which moves a few weights by about lr * gradient; a wrong
// kernel moves them by far more).
// The round operations (pseudo-gradient, setting and broadcasting the global
// model) move host buffers to and from the GPU and must be exact.
// The GPT (model.kind = gpt) trains on the GPU from the same seeded token windows as on the CPU.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <memory>
#include <random>

#include "runtime/collectives/transport.h"
#include "runtime/core/error.h"
#include "runtime/data/shard_loader.h"
#include "runtime/data/token_windows.h"
#include "runtime/model/gpt.h"
#include "runtime/model/mlp.h"
#include "runtime/model/model_factory.h"
#include "runtime/site/site_trainer.h"
#include "tests/cuda/gpu_test.h"
#include "tests/support/mpi_support.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

using testing::world_rank;

// One rank's trainer with everything it borrows.
struct Rank {
  Topology topo;
  std::unique_ptr<Transport> leaders_transport;  // the site's leader only (one site)
  std::unique_ptr<LeaderGroup> leaders;
  std::unique_ptr<TwoLevelAgreement> agreement;
  std::unique_ptr<Collectives> site;
  Mlp model;
  DatasetInfo info;
  ShardLoader loader;
  std::unique_ptr<SiteTrainer> trainer;

  Rank(const Config& c, const Comm& world)
      : topo(Topology::create(c, world)),
        site(make_mpi_collectives(topo.site_comm())),
        model(20, c.hidden, 4),
        info(inspect_dataset(c.sites[0].data)),
        loader(c.sites[0].data, info, topo.site_rank(), topo.site_size(), 99) {
    if (topo.is_leader()) {
      leaders_transport = make_mpi_transport(topo.leaders_comm());
      leaders = std::make_unique<LeaderGroup>(*leaders_transport, std::vector<std::string>{topo.site_name()}, 60);
    }
    agreement = std::make_unique<TwoLevelAgreement>(topo, leaders.get());
    trainer = make_site_trainer(c, *agreement, *site, model, loader);
  }
};

// The same for a GPT on token windows: the model as make_model gives it for c.device.
struct GptRank {
  Topology topo;
  std::unique_ptr<Transport> leaders_transport;
  std::unique_ptr<LeaderGroup> leaders;
  std::unique_ptr<TwoLevelAgreement> agreement;
  std::unique_ptr<Collectives> site;
  std::unique_ptr<Model> model;
  TokenWindowSource loader;
  std::unique_ptr<SiteTrainer> trainer;

  GptRank(const Config& c, const Comm& world, const std::vector<uint8_t>& text)
      : topo(Topology::create(c, world)),
        site(make_mpi_collectives(topo.site_comm())),
        model(make_model(c, DataShape{})),
        loader(text, c.context, topo.site_rank(), topo.site_size(), 99, "test text") {
    if (topo.is_leader()) {
      leaders_transport = make_mpi_transport(topo.leaders_comm());
      leaders = std::make_unique<LeaderGroup>(*leaders_transport, std::vector<std::string>{topo.site_name()}, 60);
    }
    agreement = std::make_unique<TwoLevelAgreement>(topo, leaders.get());
    trainer = make_site_trainer(c, *agreement, *site, *model, loader);
  }
};

std::vector<float> params_of(SiteTrainer& t) {
  const std::span<const float> p = t.params();
  return {p.begin(), p.end()};
}

class CudaTrainer : public ::testing::Test {
 protected:
  void SetUp() override {
    FEDTRAIN_REQUIRE_GPU();  // the same verdict on every rank (each sees the node's GPUs)
    char path[4096] = {0};
    if (world_rank() == 0) {
      dir_ = std::make_unique<testing::TempDir>();
      std::snprintf(path, sizeof path, "%s", dir_->path().c_str());
      write_dataset_file(dir_->file("a.h5"), testing::make_blobs(640, 20, 4, 1), 4, {});
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    path_ = path;
  }
  void TearDown() override {
    MPI_Barrier(MPI_COMM_WORLD);
    dir_.reset();
  }
  // One site of two ranks, or (one_rank_sites) two sites of one rank each.
  Config config(DeviceKind device, InnerOptimizerKind optimizer, bool one_rank_sites = false) const {
    Config c;
    c.hidden = {32, 16};
    c.batch_size = 16;
    c.seed = 5;
    c.device = device;
    c.inner.kind = optimizer;
    if (optimizer == InnerOptimizerKind::kAdamW) c.inner.lr = 0.01f;
    c.bucket_mib = 1.0 / 1024;  // 256 floats per bucket: many buckets
    c.collective_timeout_s = 60;
    c.sites = {{"a", 2, path_ + "/a.h5"}};
    if (one_rank_sites) c.sites = {{"a", 1, path_ + "/a.h5"}, {"b", 1, path_ + "/a.h5"}};
    return c;
  }
  std::unique_ptr<testing::TempDir> dir_;
  std::string path_;
  Comm world_ = Comm::borrow(MPI_COMM_WORLD);
};

TEST_F(CudaTrainer, TrainsLikeTheCpuTrainer) {
  for (InnerOptimizerKind opt : {InnerOptimizerKind::kSgd, InnerOptimizerKind::kAdamW}) {
    SCOPED_TRACE(opt == InnerOptimizerKind::kSgd ? "sgd momentum" : "adamw");
    Rank cpu(config(DeviceKind::kCpu, opt), world_);
    Rank gpu(config(DeviceKind::kCuda, opt), world_);
    EXPECT_EQ(cpu.trainer->describe(), "cpu");
    EXPECT_EQ(gpu.trainer->describe().rfind("cuda:", 0), 0u) << gpu.trainer->describe();
    // The same initial model, bit for bit.
    std::vector<float> cpu0 = params_of(*cpu.trainer);
    std::vector<float> gpu0 = params_of(*gpu.trainer);
    EXPECT_EQ(cpu0, gpu0);

    const LocalStats a = cpu.trainer->train(30), b = gpu.trainer->train(30);
    EXPECT_EQ(a.samples, b.samples);
    EXPECT_NEAR(b.loss_sum, a.loss_sum, 1e-3 * std::abs(a.loss_sum));
    std::vector<float> pc = params_of(*cpu.trainer);
    std::vector<float> pg = params_of(*gpu.trainer);
    EXPECT_TRUE(testing::all_close(pg, pc, 1e-3, 1e-2));
    EXPECT_NE(pg, gpu0);  // it trained
    EXPECT_GT(gpu.trainer->allreduce_seconds(), 0.0);
  }
}

TEST_F(CudaTrainer, TrainsTheGptLikeTheCpuTrainer) {
  Config c = config(DeviceKind::kCpu, InnerOptimizerKind::kAdamW);
  c.model_kind = ModelKind::kGpt;
  c.layers = 2, c.heads = 2, c.dim = 32, c.context = 16;
  c.batch_size = 4;
  c.inner.lr = 1e-3f;
  c.inner.weight_decay = 0.1f;
  std::vector<uint8_t> text(20000);  // the same bytes on every rank: a repeating pattern with noise
  std::mt19937_64 gen(3);
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>(i % 7 == 0 ? gen() % 256 : 'a' + i % 13);
  GptRank cpu(c, world_, text);
  c.device = DeviceKind::kCuda;
  GptRank gpu(c, world_, text);
  EXPECT_EQ(gpu.trainer->describe().rfind("cuda:", 0), 0u) << gpu.trainer->describe();
  const std::vector<float> gpu0 = params_of(*gpu.trainer);
  EXPECT_EQ(params_of(*cpu.trainer), gpu0);

  const LocalStats a = cpu.trainer->train(10), b = gpu.trainer->train(10);
  EXPECT_EQ(b.samples, 10 * 4 * 16);  // predicted bytes
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_NEAR(b.loss_sum, a.loss_sum, 1e-4 * a.loss_sum);  // the same windows: the same losses up to rounding
  const std::vector<float> pg = params_of(*gpu.trainer);
  EXPECT_TRUE(testing::all_close(pg, params_of(*cpu.trainer), 1e-3, 1e-2));  // 10 steps move a weight <= 1e-2
  EXPECT_NE(pg, gpu0);

  // The evaluator's path: the GPU model evaluates host parameters as the CPU model does.
  const std::vector<uint8_t> windows(text.begin(), text.begin() + 8 * 17);
  Batch batch;
  batch.size = 8, batch.tokens = windows.data(), batch.context = 16;
  Gpt reference(GptShape{2, 2, 32, 16});
  EXPECT_NEAR(gpu.model->evaluate(pg, batch).loss_sum, reference.evaluate(pg, batch).loss_sum, 1e-4 * 8 * 16);

  // Its state crosses to the host and back (checkpoints) unchanged.
  TrainerState saved;
  gpu.trainer->save_state(saved);
  EXPECT_EQ(saved.optimizer_names, (std::vector<std::string>{"exp_avg", "exp_avg_sq"}));
  EXPECT_EQ(saved.optimizer_steps, 10);
  gpu.trainer->train(2);
  gpu.trainer->load_state(saved);
  TrainerState again;
  gpu.trainer->save_state(again);
  EXPECT_EQ(again.params, saved.params);
  EXPECT_EQ(again.optimizer, saved.optimizer);
  EXPECT_EQ(again.loader.cursor, saved.loader.cursor);
}

TEST_F(CudaTrainer, RoundOperationsAreExact) {
  Rank gpu(config(DeviceKind::kCuda, InnerOptimizerKind::kSgd), world_);
  gpu.trainer->train(3);
  std::vector<float> local = params_of(*gpu.trainer);
  std::vector<float> global(local.size());
  std::mt19937_64 gen(17);  // the same global model on every rank
  for (float& g : global) g = static_cast<float>(gen() >> 40) / 16777216.0f - 0.5f;

  std::vector<float> delta(local.size(), NAN);
  gpu.trainer->pseudo_gradient(global, delta);
  for (size_t i = 0; i < delta.size(); ++i) ASSERT_EQ(delta[i], global[i] - local[i]) << "element " << i;

  if (gpu.topo.is_leader()) gpu.trainer->set_params(global);
  gpu.trainer->broadcast_params();
  std::vector<float> after = params_of(*gpu.trainer);
  EXPECT_EQ(after, global);  // on the leader and, through the broadcast, on the other rank
}

TEST_F(CudaTrainer, NcclNeedsAGpuPerRankAutoFallsBackToMpi) {
  const int gpus = kernels::cuda::device_count();
  Config c = config(DeviceKind::kCuda, InnerOptimizerKind::kSgd);
  c.collectives = SiteCollectivesKind::kAuto;
  Rank automatic(c, world_);
  const std::string d = automatic.trainer->describe();
  if (gpus >= 2) {
    EXPECT_NE(d.find("all-reduce nccl"), std::string::npos) << d;
  } else {
    EXPECT_NE(d.find("all-reduce mpi through host memory"), std::string::npos) << d;
    c.collectives = SiteCollectivesKind::kNccl;  // both ranks on one GPU: a start-up error on every rank
    EXPECT_THROW(Rank refused(c, world_), Error);
  }
}

TEST_F(CudaTrainer, OneRankSitesUseTheirOwnNcclCommunicators) {
  // Two processes sharing one GPU, each a site of its own with a one-rank NCCL
  // communicator: the NCCL path (all-reduce, broadcast) on any GPU count.
  Config c = config(DeviceKind::kCuda, InnerOptimizerKind::kSgd, /*one_rank_sites=*/true);
  c.collectives = SiteCollectivesKind::kNccl;
  Rank gpu(c, world_);
  Rank cpu(config(DeviceKind::kCpu, InnerOptimizerKind::kSgd, true), world_);
  EXPECT_NE(gpu.trainer->describe().find("all-reduce nccl"), std::string::npos) << gpu.trainer->describe();
  const LocalStats a = cpu.trainer->train(25), b = gpu.trainer->train(25);
  EXPECT_NEAR(b.loss_sum, a.loss_sum, 1e-3 * std::abs(a.loss_sum));
  EXPECT_TRUE(testing::all_close(params_of(*gpu.trainer), params_of(*cpu.trainer), 1e-3, 1e-2));

  std::vector<float> global = params_of(*cpu.trainer);
  for (float& g : global) g *= 0.5f;
  gpu.trainer->set_params(global);
  gpu.trainer->broadcast_params();
  EXPECT_EQ(params_of(*gpu.trainer), global);
  gpu.trainer->train(2);  // the stream and the communicator still work after the broadcast
}

}  // namespace
}  // namespace fedtrain
