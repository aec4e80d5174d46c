// A deliberate data race for scripts/tsan.sh: both threads of the parallel loop add to `sum`
// without synchronisation. ThreadSanitizer must report it; if it does not, the TSan set-up
// (runtime, Archer, options) is blind and a clean suite run would prove nothing.
#include <cstdio>

int main() {
  long sum = 0;
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 1000; ++i) sum += i;
  std::printf("%ld\n", sum);
  return 0;
}
