// Row sources: how the algorithms read data that may not fit in memory.
// The kernels never do I/O; personakit::datasets supplies an HDF5 streaming source.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace personakit {

class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual std::size_t rows() const = 0;
  virtual std::size_t cols() const = 0;
  // Visit every row once, in order, in blocks. Every block but the last holds a
  // multiple of `align_rows` rows, so results computed per fixed-size chunk do not
  // depend on the source's own block size. `x` is nrows×cols row-major fp32, valid
  // only during the call. Exceptions thrown by fn propagate.
  using BlockFn = std::function<void(const float* x, std::size_t row0, std::size_t nrows)>;
  virtual void for_each_block(std::size_t align_rows, const BlockFn& fn) = 0;
  // Copy the rows with the given (sorted ascending) indices into out (count×cols).
  virtual void read_rows(const std::uint64_t* idx, std::size_t count, float* out) = 0;
  // Non-null when all rows are resident as one n×cols row-major array.
  virtual const float* data() const { return nullptr; }

  // Optional capability (default: absent). A source that returns true from
  // parallel_reads() copies rows [row0, row0 + nrows) into out (nrows×cols, checked and
  // transformed like the blocks of for_each_block) from several threads at once. The
  // streamed Lloyd passes then read each fixed chunk on the thread that computes it, so
  // the rows are still in that core's cache when the kernels run. begin_pass() runs
  // once before such a pass (e.g. to re-check the file); will_need() hints that rows
  // are read soon (e.g. start the operating system's read-ahead); neither blocks long.
  virtual bool parallel_reads() const { return false; }
  virtual void read_range(std::size_t row0, std::size_t nrows, float* out);
  virtual void begin_pass() {}
  virtual void will_need(std::size_t /*row0*/, std::size_t /*nrows*/) {}
};

// A RowSource over a caller-owned n×d row-major array (never copied).
class MatrixSource final : public RowSource {
 public:
  MatrixSource(const float* x, std::size_t n, std::size_t d) : x_(x), n_(n), d_(d) {}
  std::size_t rows() const override { return n_; }
  std::size_t cols() const override { return d_; }
  void for_each_block(std::size_t align_rows, const BlockFn& fn) override;
  void read_rows(const std::uint64_t* idx, std::size_t count, float* out) override;
  const float* data() const override { return x_; }

 private:
  const float* x_;
  std::size_t n_, d_;
};

}  // namespace personakit
