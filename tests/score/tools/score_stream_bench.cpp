// Streamed scores against the read bandwidth, in one process (issue 6's target:
// "Davies–Bouldin, Calinski–Harabasz and inertia in one streamed pass at >= 80 % of
// the read bandwidth"):
//   score_stream_bench FILE MODEL.h5 LIMIT_MIB [REPS]
// Each repetition runs, on the same H5RowSource (same blocks: LIMIT_MIB, aligned to the
// accumulator's 8192-row chunks), a read-only pass that touches every value (16
// independent float sums, as datasets_bench stream) and then the scored pass
// (ScoreAccumulator with the model's centroids and training labels: inertia, CH and DB
// in one pass, as `personakit score --model --stream`). Prints each pair, then the
// medians, the ratio of medians (scored rows/s ÷ read rows/s) and the pairs' spread.
// Not built by default: cmake --build BUILD --target score_stream_bench.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "personakit/datasets/datasets.hpp"
#include "personakit/error.hpp"
#include "personakit/score.hpp"

namespace pkd = personakit::datasets;
using clk = std::chrono::steady_clock;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: score_stream_bench FILE MODEL.h5 LIMIT_MIB [REPS]\n");
    return 2;
  }
  try {
    const std::string file = argv[1], model_file = argv[2];
    const std::size_t limit = std::strtoull(argv[3], nullptr, 10) << 20;
    const int reps = argc > 4 ? std::atoi(argv[4]) : 7;
    const pkd::Model model = pkd::read_model(model_file);
    pkd::H5RowSource src(file, "/features", limit);
    const std::size_t n = src.rows(), d = src.cols();
    if (model.labels.size() != n || model.d != d) throw personakit::Error(model_file + ": does not match " + file);
    const std::size_t align = personakit::ScoreAccumulator::chunk_rows_for(model.k);
    std::printf("file %s: %zu x %zu (%.0f MB), reader %d, block_rows %zu, threads %d\n", file.c_str(), n, d,
                4e-6 * double(n * d), static_cast<int>(src.reader()), src.block_rows() / align * align,
                omp_get_max_threads());
    std::vector<double> tr, ts, ratio;
    double sink = 0, db = 0;
    for (int r = 0; r < reps; ++r) {
      auto t0 = clk::now();
      src.for_each_block(align, [&](const float* x, std::size_t, std::size_t nr) {
        float acc[16] = {0};
        const std::size_t m = nr * d;
        std::size_t i = 0;
        for (; i + 16 <= m; i += 16)
          for (int q = 0; q < 16; ++q) acc[q] += x[i + q];
        for (; i < m; ++i) acc[0] += x[i];
        for (float a : acc) sink += a;
      });
      const double read_s = std::chrono::duration<double>(clk::now() - t0).count();
      t0 = clk::now();
      personakit::ScoreAccumulator acc(d);
      acc.set_centroids(model.centroids.data(), model.k);
      src.for_each_block(align, [&](const float* x, std::size_t row0, std::size_t nr) {
        acc.add_block(x, model.labels.data() + row0, nr);
      });
      const personakit::StreamScores s = acc.finish();
      const double score_s = std::chrono::duration<double>(clk::now() - t0).count();
      db = s.davies_bouldin.value_or(-1);
      tr.push_back(read_s);
      ts.push_back(score_s);
      ratio.push_back(read_s / score_s);
      std::printf("rep %d: read %.3f s (%.2f GB/s)  scored %.3f s (%.2f GB/s)  ratio %.2f  [DB %.9g CH %.9g inertia %.9g]\n",
                  r, read_s, 4e-9 * double(n * d) / read_s, score_s, 4e-9 * double(n * d) / score_s, read_s / score_s,
                  db, s.calinski_harabasz.value_or(-1), s.inertia);
    }
    const auto [rmin, rmax] = std::minmax_element(ratio.begin(), ratio.end());
    std::printf("median read %.3f s (%.2f GB/s), median scored %.3f s (%.2f GB/s): ratio of medians %.2f; "
                "per-pair ratio median %.2f, min %.2f, max %.2f (sink %g)\n",
                median(tr), 4e-9 * double(n * d) / median(tr), median(ts), 4e-9 * double(n * d) / median(ts),
                median(tr) / median(ts), median(ratio), *rmin, *rmax, sink);
  } catch (const personakit::Error& e) {
    std::fprintf(stderr, "score_stream_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
