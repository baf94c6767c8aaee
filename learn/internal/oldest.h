#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bulkhead::learn::internal {

// How many timestamps OldestThreshold looks at: enough for a threshold within a few percent of
// the exact quantile, few enough that the scratch vector stays small whatever the table size.
inline constexpr std::size_t kThresholdSamples = 1024;

// Estimates the timestamp at or below which about `target` of the `table`'s entries lie, from an
// evenly strided sample of at most kThresholdSamples of them. The caller removes entries at or
// below the threshold (capped at `target`), so eviction is one O(n) pass with a bounded
// allocation instead of a full sort. The returned value is one entry's timestamp, so at least
// one entry qualifies. `table` must not be empty.
template <typename Table, typename GetTime>
std::uint64_t OldestThreshold(const Table& table, std::size_t target, GetTime get_time,
                              std::vector<std::uint64_t>& sample) {
  sample.clear();
  const std::size_t n = table.size();
  const std::size_t stride = std::max<std::size_t>(1, n / kThresholdSamples);
  std::size_t i = 0;
  for (const auto& entry : table) {
    if (i++ % stride == 0) {
      sample.push_back(get_time(entry));
    }
  }
  if (sample.empty()) {
    return 0;
  }
  std::size_t index = target * sample.size() / std::max<std::size_t>(1, n);
  index = std::min(index, sample.size() - 1);
  std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(index),
                   sample.end());
  return sample[index];
}

}  // namespace bulkhead::learn::internal
