// personakit: the one exception type the library throws.
#pragma once
#include <stdexcept>
#include <string>

namespace personakit {

// Every error the library reports is a personakit::Error whose what() is one
// line meant for a human ("k = 0: must be at least 1"). The library never prints,
// exits or aborts.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace personakit
