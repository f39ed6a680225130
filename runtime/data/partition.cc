// IID and Dirichlet label-skewed partitions.
#include "runtime/data/partition.h"

#include <algorithm>
#include <random>

#include "runtime/core/error.h"
#include "runtime/data/shuffle.h"

namespace fedtrain {

std::vector<std::vector<size_t>> partition_iid(size_t count, int sites, uint64_t seed) {
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  std::mt19937_64 gen(seed);
  shuffle(order, gen);
  std::vector<std::vector<size_t>> out(sites);
  for (int s = 0; s < sites; ++s) {
    size_t begin = count * s / sites, end = count * (s + 1) / sites;
    out[s].assign(order.begin() + begin, order.begin() + end);
    std::sort(out[s].begin(), out[s].end());
  }
  return out;
}

std::vector<std::vector<size_t>> partition_dirichlet(const std::vector<uint8_t>& labels, int classes, int sites,
                                                     double alpha, uint64_t seed, size_t min_per_site) {
  std::vector<std::vector<size_t>> by_class(classes);
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  std::mt19937_64 gen(seed);
  for (auto& c : by_class) shuffle(c, gen);

  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::vector<std::vector<size_t>> out(sites);
    std::gamma_distribution<double> gamma(alpha, 1.0);
    for (const auto& members : by_class) {
      std::vector<double> p(sites);
      double total = 0.0;
      for (double& x : p) total += (x = gamma(gen));
      if (total <= 0.0) p.assign(sites, 1.0), total = sites;
      // Cut the class's (shuffled) members at the cumulative proportions.
      double cum = 0.0;
      size_t begin = 0;
      for (int s = 0; s < sites; ++s) {
        cum += p[s] / total;
        size_t end = s + 1 == sites ? members.size() : std::min(members.size(), static_cast<size_t>(cum * members.size()));
        out[s].insert(out[s].end(), members.begin() + begin, members.begin() + std::max(begin, end));
        begin = std::max(begin, end);
      }
    }
    bool ok = true;
    for (const auto& s : out) ok = ok && s.size() >= min_per_site;
    if (ok) {
      for (auto& s : out) std::sort(s.begin(), s.end());
      return out;
    }
  }
  throw Error("Dirichlet partition: could not give every one of " + std::to_string(sites) + " sites at least " +
              std::to_string(min_per_site) + " samples; use a larger --alpha or fewer sites");
}

}  // namespace fedtrain
