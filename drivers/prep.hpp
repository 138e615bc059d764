// Reading and preprocessing the rows a subcommand works on (shared by fit, sweep, score).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "personakit/datasets/datasets.hpp"

namespace personakit::cli {

namespace ds = personakit::datasets;

// The rows of DATA in memory, after the preprocessing transform (fitted here).
struct Prepared {
  ds::DatasetInfo info;
  ds::Matrix m;                    // transformed in place when t is not empty
  ds::Transform t;
  std::vector<std::string> names;  // d feature names (file's, or f0..)
};

// Validates --scale / --log1p and turns them into a transform spec (UsageError on
// an unknown scale or column).
ds::Transform::Scale scale_option(const std::string& s);
std::vector<int> log1p_option(const std::string& spec, const std::vector<std::string>& names);

// Probe + read + fit the transform on the raw rows + apply it.
Prepared prepare_in_memory(const std::string& file, const std::string& dataset,
                           const std::string& scale, const std::string& log1p, std::uint64_t seed);

// Throws Error "FILE: k = K but the data have only M distinct rows" when fewer
// than k distinct rows exist (checked on the rows the fit will see).
void check_distinct_rows(const std::string& file, const float* x, std::size_t n, std::size_t d,
                         std::size_t k);
void check_distinct_rows(const std::string& file, RowSource& src, std::size_t k);

// Same file (by inode) or same path: the output would overwrite an input.
bool same_file(const std::string& a, const std::string& b);
// Missing files get "FILE: no such file" before HDF5 is asked.
void require_file(const std::string& path);

}  // namespace personakit::cli
