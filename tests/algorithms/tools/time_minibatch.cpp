// Timing tool (not a test, built on request): mini-batch fits on an HDF5 file, from
// the same k-means++ centroids (computed once), REPS times; prints each fit's seconds,
// steps and inertia, then the median. Profile it with perf to see a fit's own costs.
//   time_minibatch FILE K BATCH STEPS REPS [REFINE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "personakit/datasets/datasets.hpp"
#include "personakit/kmeans.hpp"

namespace pk = personakit;

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: time_minibatch FILE K BATCH STEPS REPS [REFINE]\n");
    return 2;
  }
  try {
    const auto m = pk::datasets::read_matrix(argv[1]);
    const std::size_t n = m.n, d = m.d, k = std::strtoul(argv[2], nullptr, 10);
    const auto c0 = pk::init_centroids(m.x.data(), n, d, k, pk::Init::kmeanspp, 42);
    pk::KMeansParams p;
    p.k = k;
    p.algorithm = pk::Algorithm::minibatch;
    p.init = pk::Init::given;
    p.init_centroids = c0.data();
    p.batch_size = std::strtoul(argv[3], nullptr, 10);
    p.max_steps = std::strtoull(argv[4], nullptr, 10);
    p.max_epochs = 1000;
    p.tol = 0;
    p.max_no_improvement = 0;
    p.reassignment_ratio = 0;
    p.refine = argc > 6 ? std::atoi(argv[6]) : 0;
    std::vector<double> t;
    for (int r = 0; r < std::atoi(argv[5]); ++r) {
      const auto a = std::chrono::steady_clock::now();
      const auto res = pk::fit(m.x.data(), n, d, p);
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
      std::printf("fit %.4f s  (reported %.4f s)  iterations %d  inertia %.9e\n", t.back(), res.seconds,
                  res.iterations, res.inertia);
    }
    std::sort(t.begin(), t.end());
    std::printf("median %.4f s  spread %.4f..%.4f\n", t[t.size() / 2], t.front(), t.back());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "time_minibatch: %s\n", e.what());
    return 1;
  }
}
