// Direct reads of an uncompressed little-endian float32 matrix, bypassing HDF5's
// read path: HDF5 gives the file addresses of the data once (H5Dget_offset for a
// contiguous dataset, H5Dget_chunk_info_by_coord per chunk for a chunked one), then
// rows are read with pread() or mapped read-only with mmap(). Not installed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "h5util.hpp"

namespace personakit::datasets::detail {

// Rows [row0, row0 + rows) stored back to back (row-major fp32) at byte `offset`.
struct RawRun {
  std::uint64_t row0 = 0, rows = 0, offset = 0;
};

// The file extents of a 2-D dataset, or the reason it cannot be read directly.
class RawLayout {
 public:
  // Direct reading needs: float32 little-endian (on a little-endian host), no
  // filters, no external storage, no user block, contiguous layout with its
  // storage allocated or chunks spanning every column, all allocated, each exactly
  // chunk_rows × cols × 4 bytes; at most kMaxChunks chunks. Two rows (first, last)
  // read both ways must agree. Otherwise ok() is false and why() says which rule
  // failed; the caller then reads through HDF5.
  // Throws Error (naming `where`, "truncated") when the file is shorter than the
  // extents HDF5 reports.
  static RawLayout plan(const OpenMatrix& om, const std::string& where);
  RawLayout() = default;
  RawLayout(RawLayout&& o) noexcept;
  RawLayout& operator=(RawLayout&& o) noexcept;
  RawLayout(const RawLayout&) = delete;
  RawLayout& operator=(const RawLayout&) = delete;
  ~RawLayout();

  bool ok() const { return fd_ >= 0; }
  const std::string& why() const { return why_; }
  // Runs of adjacent chunks are merged: one run per contiguous stretch of rows.
  const std::vector<RawRun>& runs() const { return runs_; }
  // Every run starts at a multiple of 4 bytes (a float* into a mapping is aligned).
  bool aligned() const { return aligned_; }
  std::size_t row_bytes() const { return row_bytes_; }
  int fd() const { return fd_; }
  // Index of the run holding row r (r < rows).
  std::size_t run_of(std::uint64_t r) const;
  // fstat: throws Error "<where>: the file is now X bytes; its data needs Y
  // (truncated?)" when the file no longer covers every extent. Called before each
  // pass and before each window is mapped: touching a mapped page past the end of
  // the file would be SIGBUS, not an error.
  void check_size(const std::string& where) const;
  // Copies rows [r0, r0 + nr) into out (pread; short reads retried). Throws Error
  // "<where>: cannot read rows a..b (truncated or corrupt file?): <reason>".
  void read(std::uint64_t r0, std::size_t nr, float* out, const std::string& where) const;

  static constexpr std::size_t kMaxChunks = std::size_t(1) << 20;

 private:
  int fd_ = -1;
  std::string why_;
  std::vector<RawRun> runs_;
  std::size_t row_bytes_ = 0;
  std::uint64_t end_ = 0;  // one past the last byte of data
  bool aligned_ = true;
};

// A read-only MAP_SHARED window [offset, offset + len) of a file (offset need not be
// page-aligned), placed at an address congruent to the offset modulo 2 MiB and
// marked MADV_HUGEPAGE (2 MiB folios of the page cache then get one PMD each), its
// page tables populated up front (MADV_POPULATE_READ) on the calling thread.
// Unmapped on destruction or reset(). Throws Error on failure.
class MapWindow {
 public:
  MapWindow() = default;
  MapWindow(int fd, std::uint64_t offset, std::size_t len, const std::string& where);
  MapWindow(MapWindow&& o) noexcept;
  MapWindow& operator=(MapWindow&& o) noexcept;
  MapWindow(const MapWindow&) = delete;
  MapWindow& operator=(const MapWindow&) = delete;
  ~MapWindow() { reset(); }
  const float* data() const { return data_; }
  void reset();

 private:
  void* base_ = nullptr;
  std::size_t len_ = 0;
  const float* data_ = nullptr;
};

// Number of NaN/Inf among x[0..m) (exponent bits all ones); *first gets the index
// of the first one when any. Integer compares: AVX2 (finite_avx2.cpp) unless the
// kernels' active ISA is scalar, else SSE2 as GCC vectorises the plain loop.
std::size_t count_nonfinite(const float* x, std::size_t m, std::size_t* first);

}  // namespace personakit::datasets::detail
