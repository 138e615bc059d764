// Cluster-quality and agreement scores. The maths, conventions, complexity and
// measured figures are in docs/scoring.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace personakit {

// ---- internal scores: x n×d row-major fp32, labels n int32 ----
// Labels may be any non-negative int32 values: the distinct values present are
// mapped to dense clusters 0..K-1 in ascending order of value (scikit-learn's
// LabelEncoder), and per-cluster outputs follow that order. Functions that also
// take centroids (k×d) instead read a label as a centroid index, which must be in [0, k).
// Rows whose label is negative (noise) are dropped from the score entirely (they are
// neither scored nor used as neighbours) when skip_negative is true; otherwise a
// negative label is an Error. Scores need 2 <= K <= n-1 (n = rows kept), else Error,
// as scikit-learn's check_number_of_labels.
struct SilhouetteResult {
  double mean = 0;                      // mean silhouette over the scored rows
  std::vector<float> per_sample;        // filled when asked: n entries, 0 for dropped (noise) rows
  std::vector<double> per_cluster;      // mean per cluster, K entries, ascending label value
  std::vector<std::int32_t> cluster_labels;  // the label value of each per_cluster entry
  std::uint64_t distance_evaluations = 0;    // distances computed: ~n²/2 (symmetric engine) or n²
};
// Exact: all pairs, Euclidean (not squared) distances = sqrt of the canonical squared
// distance (assign.hpp), blocked; extra memory O(n*d + n*K): a cluster-sorted copy of
// x and the per-(row, cluster) distance sums, never n×n. Each pair is evaluated once
// (symmetric tiles, the fused kernel of the active ISA: AVX-512, AVX2 or the scalar
// reference); only with very many small clusters via sqdist_rows tiles (all n² pairs).
// Conventions follow scikit-learn: s = 0 for a row in a singleton cluster and where
// max(a, b) = 0 (all points identical). OpenMP over tiles; the sums are combined in an
// order-independent way (fixed point) or in a fixed order, so the result is the same
// bits whatever the thread count.
SilhouetteResult silhouette(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                            bool per_sample = false, bool skip_negative = false);
// Sampled: the exact score of a seeded sample of `sample_size` rows drawn without
// replacement (all rows when sample_size >= n); the sample must itself hold 2..size-1
// clusters. Same seed, same sample on every platform (own generator, not <random>'s
// distributions).
double silhouette_sampled(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                          std::size_t sample_size, std::uint64_t seed, bool skip_negative = false);
// The rows silhouette_sampled scores, ascending (exposed for tests and for reproducing a run).
std::vector<std::size_t> silhouette_sample_indices(std::size_t n, std::size_t sample_size,
                                                   std::uint64_t seed);
// Simplified (centroid-based): a = |x - c_own|, b = min over other centroids, centroids
// k×d fp32, labels in [0, k); s = 0 for a row alone in its cluster (as the exact score)
// and where max(a, b) = 0. Needs k >= 2. O(n*k*d) time, O(k*d) memory.
double silhouette_simplified(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                             const float* centroids, std::size_t k, bool skip_negative = false);
// Davies–Bouldin and Calinski–Harabasz with the cluster means, as scikit-learn (fp64
// arithmetic; DB = 0 when all intra distances or all centroid distances are ~0 (1e-8,
// numpy's allclose), CH = 1 when the within-cluster dispersion is 0).
double davies_bouldin(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                      bool skip_negative = false);
double calinski_harabasz(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                         bool skip_negative = false);
// Sum over rows of w_i |x_i - c_{labels_i}|², fp64 differences, labels in [0, k),
// weights n fp32 or nullptr (all 1).
double inertia(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
               const float* centroids, std::size_t k, const float* weights = nullptr,
               bool skip_negative = false);

// Streamed Calinski–Harabasz, inertia, Davies–Bouldin and simplified silhouette over
// blocks of rows (for data that does not fit in memory). Pass 1 merges per-cluster
// count, mean and sum of squared deviations chunk by chunk (Chan et al.'s pairwise
// update, fp64), which gives CH and the inertia about the cluster means. Davies–Bouldin
// needs each cluster's mean distance to its centroid, which is not a moment: either
// supply the centroids up front (set_centroids: then DB, inertia and the simplified
// silhouette use them in pass 1 and labels index them), or call second_pass() after
// pass 1 and feed the same blocks again (DB, and the simplified silhouette when wanted,
// about the pass-1 means; the silhouette's centroids are those means rounded to fp32).
//
// Determinism: add_block cuts its rows into chunks of chunk_rows() rows (fixed: 8192
// unless K > 1024), runs them in parallel (OpenMP) and merges them in chunk order. So
// the result is the same bits for any thread count, and for any way of cutting the
// rows into blocks as long as every block but the last is a multiple of chunk_rows()
// (RowSource::for_each_block's align_rows) and K is fixed before the first block
// (register_labels, or set_centroids). The in-memory davies_bouldin(),
// calinski_harabasz() and silhouette_simplified() are this accumulator fed one block.
struct StreamScores {
  std::size_t n = 0;                              // rows scored
  std::vector<std::int32_t> cluster_labels;      // ascending label values (K entries)
  std::vector<double> counts;                    // per cluster
  std::vector<double> means;                     // K×d, fp64
  double inertia = 0;                            // about the given centroids, else the means
  std::optional<double> calinski_harabasz;       // absent when K < 2 or K > n-1
  std::optional<double> davies_bouldin;          // absent until available (see above)
  std::optional<double> silhouette_simplified;   // when wanted and available (k >= 2, n >= 1)
};
class ScoreAccumulator {
 public:
  explicit ScoreAccumulator(std::size_t d, bool skip_negative = false);
  // centroids: k×d fp32 row-major, copied. Call before the first add_block.
  void set_centroids(const float* centroids, std::size_t k);
  // Also compute the simplified silhouette (silhouette_simplified's definition): in
  // pass 1 with given centroids, else in pass 2. Costs O(n·K·d) more. Before add_block.
  void want_silhouette_simplified(bool on = true);
  // Optional, pass 1, before add_block: registers the distinct (non-negative) label
  // values of all the rows to come, so that K, hence chunk_rows(), is fixed from the
  // first block on. labels: n int32 (negatives: Error unless skip_negative).
  void register_labels(const std::int32_t* labels, std::size_t n);
  // Rows per chunk for K clusters (or k given centroids): max(8192, 8K).
  static std::size_t chunk_rows_for(std::size_t k);
  std::size_t chunk_rows() const { return chunk_rows_for(clusters_.size()); }
  // x: n×d row-major fp32, labels: n int32.
  void add_block(const float* x, const std::int32_t* labels, std::size_t n);
  // Ends pass 1 and starts pass 2 (Davies–Bouldin about the pass-1 means).
  void second_pass();
  StreamScores finish() const;

 private:
  struct Cluster { double count = 0, m2 = 0, dist_sum = 0, sq_to_given = 0, sil_sum = 0; std::vector<double> mean; };
  std::size_t slot(std::int32_t label);
  void map_slots(const std::int32_t* labels, std::size_t n, std::int32_t* sl);
  std::size_t d_;
  bool skip_negative_;
  bool want_sil_ = false;
  int pass_ = 1;
  std::size_t n_ = 0, n2_ = 0;
  std::vector<float> given_;                     // k×d when set
  std::vector<double> given_d_;                  // the same, fp64
  std::size_t given_k_ = 0;
  std::vector<Cluster> clusters_;
  std::vector<std::int32_t> slot_label_;
  std::unordered_map<std::int32_t, std::size_t> slot_of_;
  std::vector<std::int32_t> direct_;             // slot of labels < 65536 (-1: none yet)
  std::vector<double> frozen_means_;             // pass 2: slot×d
  std::vector<float> sil_centroids_;             // the simplified silhouette's centroids (fp32), slot×d
  std::vector<std::int32_t> sl_;                 // add_block's cluster ids, kept between blocks (no re-zeroing)
};

// ---- external scores between two labellings of n items (any int32 values) ----
// exclude_noise: drop every item whose label is negative in either labelling first.
// Conventions are scikit-learn 1.2's (docs/scoring.md lists them): e.g. ARI = 1 when
// no pair is split differently (identical labellings, n < 2); NMI and AMI = 1 when both
// labellings have a single cluster (or n = 0); homogeneity = 1 when truth has one class.
// Contingency counting is O(n + K_a + K_b) via direct tables when the label ranges are
// small, else via sorting the distinct values; only non-zero cells are kept internally.
struct Contingency {
  std::vector<std::int32_t> row_labels, col_labels;  // distinct values, ascending
  std::vector<std::int64_t> counts;                  // rows × cols, row-major
};
// Throws Error when rows × cols exceeds 2^28 cells (use the scores, which stay sparse).
Contingency contingency(const std::int32_t* a, const std::int32_t* b, std::size_t n,
                        bool exclude_noise = false);
double adjusted_rand(const std::int32_t* truth, const std::int32_t* pred, std::size_t n,
                     bool exclude_noise = false);
double normalized_mutual_info(const std::int32_t* truth, const std::int32_t* pred, std::size_t n,
                              bool exclude_noise = false);  // arithmetic mean
double adjusted_mutual_info(const std::int32_t* truth, const std::int32_t* pred, std::size_t n,
                            bool exclude_noise = false);    // arithmetic mean
// Mutual information (nats) and its expectation under the permutation model (exact,
// hypergeometric), exposed for tests.
double mutual_info(const std::int32_t* truth, const std::int32_t* pred, std::size_t n,
                   bool exclude_noise = false);
double expected_mutual_info(const std::int32_t* truth, const std::int32_t* pred, std::size_t n,
                            bool exclude_noise = false);
struct HomogeneityCompleteness { double homogeneity = 0, completeness = 0, v_measure = 0; };
HomogeneityCompleteness homogeneity_completeness(const std::int32_t* truth, const std::int32_t* pred,
                                                 std::size_t n, bool exclude_noise = false);
// All external scores from one contingency pass.
struct ExternalScores {
  double ari = 0, nmi = 0, ami = 0, mutual_info = 0, expected_mutual_info = 0;
  HomogeneityCompleteness hc;
  std::size_t n = 0, truth_clusters = 0, pred_clusters = 0;
};
ExternalScores external_scores(const std::int32_t* truth, const std::int32_t* pred, std::size_t n,
                               bool exclude_noise = false);

}  // namespace personakit
