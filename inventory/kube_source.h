#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>

#include "inventory/kube_client.h"
#include "inventory/kube_config.h"
#include "inventory/kube_objects.h"

// Cluster identity from the Kubernetes API: pods (all namespaces), namespaces and nodes, each
// kept current with list + watch as client-go's reflector does. A paginated list (`limit`,
// `continue`) gives the whole state, delivered as one `relist` KubeBatch; a watch from the list's
// resourceVersion (with bookmarks, ended by the server after `timeoutSeconds` and then resumed
// from the last version seen) gives the changes. `410 Gone` (the version is older than the
// server's history: an HTTP status, or an ERROR event in the stream) is answered by a fresh
// list at once; any other failure waits (exponential backoff) and then lists again, because
// what happened meanwhile is unknown.
//
// Threading: one thread of its own running an io_context with three coroutines (one per
// resource) over one KubeClient. The client is asynchronous already (like DockerClient), so
// three threads would only add locks; and the agent's executor never waits on the network.
// Each batch is posted to the agent's executor; Stop() joins the thread.
namespace bulkhead::inventory {

struct KubeSourceOptions {
  KubeClientOptions client;
  // Objects per list page (`limit`): a page of 500 pods is a few MiB.
  std::size_t page_size = 500;
  // The watch's timeoutSeconds: the server ends the stream after it and the source resumes.
  std::chrono::seconds watch_timeout{300};
  // Waits after a failure: doubling from initial to max, back to initial after a success.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
};

// What the agent reports about the source. Counters since Start, and per resource (indexed by
// KubeResource) the last time the API server was heard from about it: a list page, an event or
// a bookmark. An agent says how stale its identities are from it.
struct KubeSourceStats {
  std::uint64_t lists = 0;           // complete lists (every page), the first ones included
  std::uint64_t relists = 0;         // complete lists after the first one of their resource
  std::uint64_t watch_restarts = 0;  // watches resumed after the server ended them cleanly
  std::uint64_t gone = 0;            // 410 Gone answers and ERROR events
  std::uint64_t errors = 0;          // failed lists and watches, bad answers and event lines
  std::uint64_t events = 0;          // ADDED, MODIFIED and DELETED events applied
  std::uint64_t bookmarks = 0;
  std::uint64_t skipped = 0;  // objects left out because a field of theirs was bad
  std::array<std::optional<std::chrono::steady_clock::time_point>, 3> last_contact;
  // Per resource: a watch stream is open now, so the identities are current (an idle cluster
  // sends nothing for minutes; an open stream is still the API server's word that nothing
  // changed). Otherwise they are as old as last_contact.
  std::array<bool, 3> watching{};
};

class KubeSource {
 public:
  // Runs on the executor, once per batch, in the order the API server gave them per resource.
  using BatchCallback = std::function<void(KubeBatch batch)>;

  // Fails when the CA or client certificate in `config` cannot be loaded. `logger` may be null.
  static boost::system::result<std::unique_ptr<KubeSource>, KubeError> Create(
      boost::asio::any_io_executor executor, KubeConfig config, KubeSourceOptions options,
      std::shared_ptr<spdlog::logger> logger);
  ~KubeSource();
  KubeSource(const KubeSource&) = delete;
  KubeSource& operator=(const KubeSource&) = delete;

  // Starts the thread: lists then watches the three resources. Call once.
  void Start(BatchCallback on_batch);
  // Stops the thread (joins it); batches already posted are then dropped. Call on the executor.
  void Stop();

  // Safe from any thread.
  KubeSourceStats stats() const;

 private:
  struct Counters;
  KubeSource(boost::asio::any_io_executor executor, KubeSourceOptions options,
             std::shared_ptr<spdlog::logger> logger);

  // Runs Follow(resource) on io_, again (after `max_backoff`) should it ever throw.
  void Spawn(KubeResource resource, std::chrono::milliseconds first_wait);
  boost::asio::awaitable<void> Follow(KubeResource resource, std::chrono::milliseconds first_wait);
  // One list and its post, or the wait after a failed one (false). `listed`: a list of this
  // resource succeeded before (this one is a relist).
  boost::asio::awaitable<bool> ListStep(KubeResource resource, bool& listed, std::string& version,
                                        std::chrono::milliseconds& backoff);
  // Every page of one list, as one relist batch; nullopt after an error (counted, logged).
  // `gone`: the failure was a 410 (an expired continue token).
  boost::asio::awaitable<std::optional<KubeBatch>> List(KubeResource resource, bool& gone);
  // One watch from `resource_version` (updated as events arrive). Returns how it ended.
  boost::asio::awaitable<KubeWatchEnd> WatchOnce(KubeResource resource,
                                                 std::string& resource_version, bool& gone);
  boost::asio::awaitable<void> Sleep(std::chrono::milliseconds delay);
  void Post(KubeBatch batch);
  void Touch(KubeResource resource);

  boost::asio::any_io_executor executor_;
  KubeSourceOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  BatchCallback on_batch_;
  std::unique_ptr<Counters> counters_;
  // Read by batches posted to the executor: false once Stop() has run.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::thread thread_;
  // Declared last: destroyed first, with the coroutine frames it still holds, while the client
  // (whose TLS context their streams use) is alive.
  std::unique_ptr<KubeClient> client_;
  boost::asio::io_context io_;
};

}  // namespace bulkhead::inventory
