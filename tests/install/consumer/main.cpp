// Links the installed kernels and checks one known answer.
#include <cstdio>
#include <vector>

#include <personakit/assign.hpp>
#include <personakit/version.hpp>

int main() {
  const std::vector<float> x = {0, 0, 10, 10, 1, 1};
  const std::vector<float> c = {0, 0, 10, 10};
  personakit::PackedCentroids pc(c.data(), 2, 2);
  std::vector<int> labels(3);
  std::vector<float> dist(3);
  personakit::assign_nearest(x.data(), 3, 2, nullptr, pc, labels.data(), dist.data());
  const bool ok = labels[0] == 0 && labels[1] == 1 && labels[2] == 0 && dist[2] == 2.0f;
  std::printf("personakit %s consumer: %s\n", PERSONAKIT_VERSION, ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
