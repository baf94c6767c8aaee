#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "capture/ip_addr.h"
#include "enforcer/kernel_ruleset.h"

namespace bulkhead::daemon {

// Violations the kernel judged but did not log because their source was over its log budget
// (enforcer: the suppressed4/6 sets), as totals per source group that only grow:
// bulkhead_violations_suppressed_total{group} and `status`. The kernel's counts start again at
// every full apply (the sets are created anew): Restart() says so, and a count lower than the
// last one read is taken as counting from 0. Used on the agent's event loop only.
class SuppressedViolations {
 public:
  using GroupOf = std::function<std::string(const capture::IpAddr&)>;

  // The kernel's counts now (ReadSuppressedViolations); `group_of` names a source's group.
  void Update(const std::vector<enforcer::SuppressedCount>& current, const GroupOf& group_of);
  // The kernel's sets were just created anew (a full apply): their counts are 0.
  void Restart() { last_.clear(); }
  // Group -> violations not logged since the agent started.
  const std::map<std::string, std::uint64_t>& by_group() const { return totals_; }

 private:
  std::map<std::pair<bool, std::array<std::uint8_t, 16>>, std::uint64_t> last_;
  std::map<std::string, std::uint64_t> totals_;
};

}  // namespace bulkhead::daemon
