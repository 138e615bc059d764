// The roofline probe: plausible, positive ceilings, and argument checks.
#include <gtest/gtest.h>

#include "personakit/error.hpp"
#include "personakit/roofline.hpp"

namespace pk = personakit;

TEST(Roofline, MeasuresPositiveCeilings) {
  const pk::Roofline r = pk::measure_roofline(1, 0.05);
  EXPECT_EQ(r.threads, 1);
  // Any x86-64 core of the last 15 years sustains more than 1 GFLOP/s of FP32
  // FMA and 0.5 GB/s of streaming reads, and none reaches 10 TFLOP/s or 1 TB/s on one core.
  EXPECT_GT(r.fma_gflops, 1.0);
  EXPECT_LT(r.fma_gflops, 1e4);
  EXPECT_GT(r.read_gbs, 0.5);
  EXPECT_LT(r.read_gbs, 1e3);
}

TEST(Roofline, RejectsBadArguments) {
  EXPECT_THROW(pk::measure_roofline(0), pk::Error);
  EXPECT_THROW(pk::measure_roofline(1, 0.0), pk::Error);
}
