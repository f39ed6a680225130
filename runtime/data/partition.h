// Splitting a labelled dataset across sites: IID, or label-skewed by a Dirichlet prior.
//
// Dirichlet(alpha) follows Hsu et al. 2019: for every class, proportions
// p ~ Dir(alpha) over the sites decide how that class's samples are dealt out.
// Small alpha gives each site few classes; large alpha tends to IID.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fedtrain {

// Returns, per site, the indices of its samples (each index exactly once overall).
std::vector<std::vector<size_t>> partition_iid(size_t count, int sites, uint64_t seed);
// Redraws (deterministically) until every site holds at least `min_per_site` samples;
// throws Error if that cannot be reached.
std::vector<std::vector<size_t>> partition_dirichlet(const std::vector<uint8_t>& labels, int classes, int sites,
                                                     double alpha, uint64_t seed, size_t min_per_site);

}  // namespace fedtrain
