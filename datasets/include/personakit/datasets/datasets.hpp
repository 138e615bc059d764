// personakit::datasets — HDF5 customer matrices, models, labels, streaming and the
// synthetic-customer generator. The on-disk layout is documented in docs/format.md,
// the generator in docs/generator.md.
//
// Every error is a personakit::Error whose what() is one line starting with the
// file it concerns ("data.h5: no dataset /features (datasets: /train, /test)").
// HDF5's own error-stack printing is switched off on every thread that calls in.
// Every writer is atomic: it writes PATH.tmp-XXXXXX in the same directory and
// renames it over PATH only once complete; on any error the temporary is removed.
// Threading: the functions may be called from any thread; HDF5 1.10 (thread-safe
// build) serialises the library calls themselves.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "personakit/source.hpp"

namespace personakit::datasets {

// ---------------------------------------------------------------- inspection

struct DatasetInfo {
  std::string file, dataset;
  std::size_t rows = 0, cols = 0;
  std::string dtype;                        // "float32" or "float64"
  std::vector<std::string> feature_names;   // from /feature_names when it has `cols` entries, else empty
  bool has_truth = false, has_ids = false;  // /truth (N int32) and /customer_ids (N int64) present
  std::size_t chunk_rows = 0;               // rows per HDF5 chunk (0: contiguous layout)
};

// Checks that `dataset` in `file` is a 2-D float32/float64 matrix with at least one
// row and one column. Throws Error naming the file for: missing file, not HDF5
// (or truncated), missing dataset, wrong rank, wrong dtype, zero rows or columns.
DatasetInfo probe(const std::string& file, const std::string& dataset = "/features");

// ---------------------------------------------------------------- preprocessing

// Per-column preprocessing applied to every row before k-means:
//   1. x = log1p(x) for the columns in log1p_cols (a negative value is an Error);
//   2. x = (x - center[j]) / scale_by[j] for every column when scale != none.
// Arithmetic in fp64, one rounding to fp32 per value, so the same row always gives
// the same bytes whichever path (in memory, streamed, predict) applies it.
struct Transform {
  enum class Scale { none, standard, robust };
  std::vector<int> log1p_cols;       // 0-based column indices, ascending, unique
  Scale scale = Scale::none;
  std::vector<double> center;        // d entries when scale != none
  std::vector<double> scale_by;      // d entries when scale != none (never 0)
  // x: n×d row-major fp32, transformed in place. row0 only names rows in errors.
  // Throws Error when d does not match the transform or log1p meets x < 0.
  void apply(float* x, std::size_t n, std::size_t d, std::uint64_t row0 = 0) const;
  bool empty() const { return log1p_cols.empty() && scale == Scale::none; }
};

const char* scale_name(Transform::Scale s);             // "none", "standard", "robust"
Transform::Scale parse_scale(const std::string& s);     // throws Error

// Fits the transform in streamed passes over src (whose rows are the raw features):
//  standard: mean and population std (ddof 0, as scikit-learn) per column of the
//            log1p'd data, one pass, fp64 sums per block shifted by the first row;
//  robust:   median and IQR (q75 - q25, linear interpolation as numpy) per column
//            from a uniform sample of min(n, 1e6) rows (selection sampling keyed by
//            (seed, row): same sample whatever the block size), one pass;
//  a std or IQR of 0 (constant column) gives scale 1.
// log1p_cols are validated against src.cols(); a negative value in them is an Error.
Transform fit_transform(RowSource& src, Transform::Scale s, std::vector<int> log1p_cols,
                        std::uint64_t seed = 0);

// "monetary,avg_basket" or "2,3" (0-based) or a mix -> sorted unique indices.
// An empty spec gives {}. Unknown names or out-of-range indices throw Error.
std::vector<int> parse_columns(const std::string& spec, const std::vector<std::string>& names);

// ---------------------------------------------------------------- reading

struct Matrix {
  std::vector<float> x;                    // n×d row-major fp32
  std::size_t n = 0, d = 0;
  std::vector<std::string> feature_names;  // d names (generated "f0".. when the file has none)
  std::vector<std::int64_t> ids;           // /customer_ids when present (n), else empty
  std::vector<std::int32_t> truth;         // /truth when present (n), else empty
};

// Reads a whole matrix by row blocks (float64 converted block by block, so the
// matrix is never held twice), applies t when given, and checks finiteness:
// "data.h5:/features has 3 non-finite values (NaN/Inf); first at row 17, column 4 (monetary)".
// A float64 value too large for float32 counts as non-finite.
// /customer_ids and /truth are read only for the default dataset layout (when
// they exist with n entries).
Matrix read_matrix(const std::string& file, const std::string& dataset = "/features",
                   const Transform* t = nullptr);

std::vector<std::int32_t> read_labels(const std::string& file, const std::string& dataset = "/labels");
// A 1-D numeric dataset converted to fp32 (e.g. sample weights); must be finite.
std::vector<float> read_vector(const std::string& file, const std::string& dataset);
// A k×d 2-D dataset (any model file's /centroids); k and d returned when non-null.
std::vector<float> read_centroids(const std::string& file, const std::string& dataset = "/centroids",
                                  std::size_t* k = nullptr, std::size_t* d = nullptr);
// /feature_names of a file ({} when absent).
std::vector<std::string> read_feature_names(const std::string& file);

// Streaming reader: visits the rows block by block while a reader thread fills the
// next block (double buffering), so I/O overlaps the caller's compute.
//
// Memory: the source holds at most 2 blocks of block_rows × cols fp32 (buffers, or
// with the mmap reader mapped windows of the file, which count in the resident set
// the same way) plus a fixed overhead of 2 MiB (1 MiB fp64 staging for float64
// files, 1 MiB HDF5 chunk cache):
//     block_rows = min(rows, floor((memory_limit - 2 MiB) / (2 × 4 × cols)),
//                      max(1, floor(32 MiB / (4 × cols))))
// (blocks beyond 32 MiB only lose cache locality: measured slower), and per pass
// the block is rounded down to a multiple of align_rows. A limit that cannot hold
// one row (or, per pass, one align_rows block) throws Error.
// Every block is checked for NaN/Inf (unless set_check_finite(false)) and then
// transformed by t (which must outlive the source). Read errors mid-pass (corrupt
// or truncated data) throw Error naming the file and the rows.
//
// Readers (docs/format.md, "Streaming"): an uncompressed little-endian float32
// dataset (contiguous, or chunks spanning every column) is read straight from the
// file's data extents with pread() into the block buffer, checked and transformed
// 1 MiB at a time (the default). Opt-in `mmap`: without a transform each block is
// a read-only window of the page cache handed to the callback as is (no copy; the
// reader thread maps and checks the next window while the callback runs); it only
// pays where the page cache holds 2 MiB folios. Anything else (float64, filters,
// partial-width chunks, ...) goes through H5Dread. Every reader delivers the same
// bytes and errors. The file's size is checked against the data's extents when the
// source is made, at every pass and before each window is mapped. The environment
// variable PERSONAKIT_STREAM_READER=hdf5|pread|mmap overrides the automatic choice
// (an impossible choice falls back to the automatic one).
class H5RowSource final : public personakit::RowSource {
 public:
  enum class Reader { automatic, hdf5, pread, mmap };
  static constexpr std::size_t kOverheadBytes = std::size_t(2) << 20;
  static constexpr std::size_t kMaxBlockBytes = std::size_t(32) << 20;

  H5RowSource(const std::string& file, const std::string& dataset, std::size_t memory_limit_bytes,
              const Transform* t = nullptr);
  ~H5RowSource() override;
  H5RowSource(const H5RowSource&) = delete;
  H5RowSource& operator=(const H5RowSource&) = delete;

  std::size_t rows() const override;
  std::size_t cols() const override;
  void for_each_block(std::size_t align_rows, const BlockFn& fn) override;
  // idx sorted ascending, each < rows(); out: count×cols, transformed like the blocks.
  void read_rows(const std::uint64_t* idx, std::size_t count, float* out) override;
  // With the pread reader (no mmap, no HDF5 fallback): pread of the rows straight from
  // the file's data extents, checked and transformed, safe from several threads; the
  // streamed Lloyd pass uses it per fixed chunk (docs/format.md, "Streaming").
  // set_parallel_reads(false), or PERSONAKIT_STREAM_PARALLEL=0 in the environment when
  // the source is made, turns it off (the reader-thread blocks are used instead).
  bool parallel_reads() const override;
  void set_parallel_reads(bool on);
  void read_range(std::size_t row0, std::size_t nrows, float* out) override;
  void begin_pass() override;                                    // re-checks the file's size
  void will_need(std::size_t row0, std::size_t nrows) override;  // posix_fadvise(WILLNEED)

  std::size_t block_rows() const;           // before rounding to align_rows
  const DatasetInfo& info() const;
  void set_check_finite(bool on);           // default on
  // automatic: pread when possible, else hdf5. pread/mmap on a dataset
  // that cannot be read directly throw Error with the reason.
  void set_reader(Reader r);
  // The reader of the next pass (mmap with a non-empty transform reports pread).
  Reader reader() const;
  // Why the rows cannot be read directly ("" when they can), e.g. "filtered
  // (compressed) chunks".
  const std::string& direct_unavailable_reason() const;
  // Rows in one block for a limit (formula above); throws Error when no row fits.
  static std::size_t block_rows_for(std::size_t memory_limit_bytes, std::size_t rows, std::size_t cols,
                                    const std::string& file = "");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ColumnStats {
  std::string name;
  double min = 0, mean = 0, max = 0;   // over finite values (NaN when a column has none)
  std::uint64_t nonfinite = 0;
};
// One streamed pass (memory bounded by memory_limit_bytes as for H5RowSource).
std::vector<ColumnStats> column_stats(const std::string& file, const std::string& dataset = "/features",
                                      std::size_t memory_limit_bytes = std::size_t(64) << 20);

// ---------------------------------------------------------------- writing

// /features n×d float32 row-major, chunked by rows; /feature_names when names is
// non-empty (must have d entries); /customer_ids and /truth when non-empty (n entries).
void write_matrix(const std::string& path, const float* x, std::size_t n, std::size_t d,
                  const std::vector<std::string>& names = {}, const std::vector<std::int64_t>& ids = {},
                  const std::vector<std::int32_t>& truth = {});

struct Model {
  std::vector<float> centroids;            // k×d row-major
  std::size_t k = 0, d = 0;
  std::vector<std::int32_t> labels;        // n training labels (may be empty)
  std::vector<std::int64_t> sizes;         // k cluster sizes
  std::vector<std::string> feature_names;  // d names (may be empty)
  Transform transform;                     // re-applied by predict
  // Root-group attributes: string, integer, floating-point or boolean values, or
  // arrays of strings/numbers (e.g. algorithm, init, k, seed, iterations, inertia,
  // converged, source_file, source_dataset). "personakit_version" is added when absent.
  nlohmann::json attrs = nlohmann::json::object();
};

// /centroids k×d float32, /cluster_sizes k int64, /labels n int32 (when non-empty),
// /feature_names, /transform group, attributes on "/". Atomic.
void write_model(const std::string& path, const Model& m);
Model read_model(const std::string& path);

// /labels n int32 and /distances n float32 (distances may be empty: then omitted). Atomic.
void write_labels(const std::string& path, const std::vector<std::int32_t>& labels,
                  const std::vector<float>& distances);

// Writes /labels (and /distances) block by block for streamed predict. The file
// appears at `path` only after commit(); destroying an uncommitted writer (or any
// error) removes the temporary.
class LabelWriter {
 public:
  LabelWriter(const std::string& path, std::size_t n, bool with_distances);
  ~LabelWriter();
  LabelWriter(const LabelWriter&) = delete;
  LabelWriter& operator=(const LabelWriter&) = delete;
  // Rows [row0, row0+count); distances ignored (may be null) without /distances.
  void write(std::size_t row0, const std::int32_t* labels, const float* distances, std::size_t count);
  // Extra root attributes (same value rules as Model::attrs), written on commit.
  void set_attrs(const nlohmann::json& attrs);
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------- generator

struct GeneratorParams {
  std::string kind = "customers";   // or "blobs"
  std::uint64_t rows = 100000;
  std::size_t features = 12;        // customers: a prefix of the 16 base features, then noise columns
  std::size_t segments = 6;         // latent personas / blobs
  std::uint64_t seed = 42;
  double separation = 4.0;          // blobs: distance of the closest pair of centres, in blob std units
  std::size_t chunk_rows = 65536;   // rows generated (in parallel) per written chunk
};

// Names of the customer features in column order (16 base features).
const std::vector<std::string>& customer_feature_names();

// Writes /features, /feature_names, /customer_ids, /truth (+ attributes) to path,
// atomically. The output bytes depend only on the params' kind, rows, features,
// segments, seed and separation: not on chunk_rows or the thread count. Memory is
// O(chunk_rows × features). progress (may be empty) gets the rows written so far.
void generate(const GeneratorParams& p, const std::string& path,
              const std::function<void(std::uint64_t rows_done)>& progress = {});

}  // namespace personakit::datasets
