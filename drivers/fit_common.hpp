// Pieces of `fit` reused by `sweep`.
#pragma once
#include <iosfwd>
#include <string>

#include "cli.hpp"
#include "personakit/kmeans.hpp"

namespace personakit::cli {

// --algorithm value -> Algorithm (UsageError when unknown).
Algorithm algorithm_option(const std::string& s);
// Progress lines "WHAT: iter 3  inertia ...  shift ...  elapsed 1.2 s" on err after
// Common::progress_after seconds (never with quiet); returns false on SIGINT.
ProgressFn fit_progress(std::ostream& err, const Common& c, int n_init, const std::string& what);

}  // namespace personakit::cli
