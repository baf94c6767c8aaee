#include "inventory/kube_source.h"

#include <algorithm>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "inventory/kube_api.h"

namespace bulkhead::inventory {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct KubeSource::Counters {
  std::atomic<std::uint64_t> lists{0};
  std::atomic<std::uint64_t> relists{0};
  std::atomic<std::uint64_t> watch_restarts{0};
  std::atomic<std::uint64_t> gone{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> bookmarks{0};
  std::atomic<std::uint64_t> skipped{0};
  // Clock::time_point::time_since_epoch in nanoseconds; 0: never.
  std::array<std::atomic<std::int64_t>, 3> last_contact{};
  std::array<std::atomic<bool>, 3> watching{};
};

namespace {

// A watch that the server ends this soon after it opened, more than once, is not a normal
// timeoutSeconds expiry: the source then waits before the next one.
constexpr std::chrono::seconds kShortWatch{1};
// Object problems logged per list (the rest are counted): one bad pod per page is information,
// thousands are a flood.
constexpr std::size_t kMaxSkipLogsPerList = 5;

std::size_t Index(KubeResource resource) { return static_cast<std::size_t>(resource); }

// Percent-encodes what a continue token may hold that a query may not ('+', '/', '=').
std::string QueryValue(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '+' || c == '/' || c == '=') {
      constexpr std::string_view kHex = "0123456789ABCDEF";
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

std::string Base(KubeResource resource) {
  return "/api/v1/" + std::string(KubeResourceName(resource));
}

// Adds one event to the batch being built from one read of the stream. The batch says "these
// objects exist now, these are gone" with no order between the two, so an object that is
// deleted leaves the objects and one that is (re)added leaves `deleted`.
template <typename T, typename Key>
void Apply(std::vector<T>& objects, std::vector<std::string>& deleted, T object, bool remove,
           Key&& key) {
  const std::string id = key(object);
  std::erase_if(objects, [&](const T& o) { return key(o) == id; });
  std::erase(deleted, id);
  if (remove) {
    deleted.push_back(id);
  } else {
    objects.push_back(std::move(object));
  }
}

void ApplyEvent(KubeBatch& batch, KubeEvent& event) {
  const bool remove = event.type == KubeEventType::kDeleted;
  switch (batch.resource) {
    case KubeResource::kPods:
      Apply(batch.pods, batch.deleted, std::move(event.pod), remove,
            [](const KubePod& pod) { return pod.uid; });
      break;
    case KubeResource::kNamespaces:
      Apply(batch.namespaces, batch.deleted, std::move(event.namespace_object), remove,
            [](const KubeNamespace& ns) { return ns.name; });
      break;
    case KubeResource::kNodes:
      Apply(batch.nodes, batch.deleted, std::move(event.node), remove,
            [](const KubeNode& node) { return node.name; });
      break;
  }
}

}  // namespace

boost::system::result<std::unique_ptr<KubeSource>, KubeError> KubeSource::Create(
    asio::any_io_executor executor, KubeConfig config, KubeSourceOptions options,
    std::shared_ptr<spdlog::logger> logger) {
  std::unique_ptr<KubeSource> source(
      new KubeSource(std::move(executor), options, std::move(logger)));
  auto client =
      KubeClient::Create(source->io_.get_executor(), std::move(config), source->options_.client);
  if (!client) {
    return client.error();
  }
  source->client_ = std::move(*client);
  return source;
}

KubeSource::KubeSource(asio::any_io_executor executor, KubeSourceOptions options,
                       std::shared_ptr<spdlog::logger> logger)
    : executor_(std::move(executor)),
      options_(options),
      logger_(std::move(logger)),
      counters_(std::make_unique<Counters>()) {
  options_.page_size = std::max<std::size_t>(options_.page_size, 1);
}

KubeSource::~KubeSource() { Stop(); }

void KubeSource::Start(BatchCallback on_batch) {
  on_batch_ = std::move(on_batch);
  for (const KubeResource resource :
       {KubeResource::kNamespaces, KubeResource::kNodes, KubeResource::kPods}) {
    Spawn(resource, milliseconds(0));
  }
  if (logger_) {
    logger_->info("kubernetes: following pods, namespaces and nodes at {} ({})",
                  client_->config().ServerUrl(), client_->config().origin);
  }
  thread_ = std::thread([this] { io_.run(); });
}

void KubeSource::Spawn(KubeResource resource, milliseconds first_wait) {
  // Nothing in Follow throws but an allocation failure (a huge list); then this resource starts
  // over after the longest backoff instead of being silently no longer followed.
  asio::co_spawn(io_, Follow(resource, first_wait),
                 [this, resource](const std::exception_ptr& error) {
                   if (!error) {
                     return;
                   }
                   ++counters_->errors;
                   try {
                     std::rethrow_exception(error);
                   } catch (const std::exception& e) {
                     if (logger_) {
                       logger_->error("kubernetes: following {} failed: {}; starting over",
                                      KubeResourceName(resource), e.what());
                     }
                   }
                   Spawn(resource, options_.max_backoff);
                 });
}

void KubeSource::Stop() {
  alive_->store(false);
  io_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

KubeSourceStats KubeSource::stats() const {
  KubeSourceStats out;
  out.lists = counters_->lists.load();
  out.relists = counters_->relists.load();
  out.watch_restarts = counters_->watch_restarts.load();
  out.gone = counters_->gone.load();
  out.errors = counters_->errors.load();
  out.events = counters_->events.load();
  out.bookmarks = counters_->bookmarks.load();
  out.skipped = counters_->skipped.load();
  for (std::size_t i = 0; i < out.watching.size(); ++i) {
    out.watching.at(i) = counters_->watching.at(i).load();
  }
  for (std::size_t i = 0; i < out.last_contact.size(); ++i) {
    const std::int64_t ns = counters_->last_contact.at(i).load();
    if (ns != 0) {
      out.last_contact.at(i) = Clock::time_point(std::chrono::nanoseconds(ns));
    }
  }
  return out;
}

void KubeSource::Touch(KubeResource resource) {
  const auto now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch());
  counters_->last_contact.at(Index(resource)).store(now.count());
}

void KubeSource::Post(KubeBatch batch) {
  asio::post(executor_, [on_batch = on_batch_, alive = alive_, batch = std::move(batch)]() mutable {
    if (alive->load()) {
      on_batch(std::move(batch));
    }
  });
}

asio::awaitable<void> KubeSource::Sleep(std::chrono::milliseconds delay) {
  asio::steady_timer timer(io_, delay);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<std::optional<KubeBatch>> KubeSource::List(KubeResource resource, bool& gone) {
  KubeBatch batch;
  batch.resource = resource;
  batch.relist = true;
  std::string continue_token;
  std::size_t logged = 0;
  do {
    std::string target = Base(resource) + "?limit=" + std::to_string(options_.page_size);
    if (!continue_token.empty()) {
      target += "&continue=" + QueryValue(continue_token);
    }
    unsigned status = 0;
    auto body = co_await client_->Get(target, &status);
    if (!body) {
      gone = status == 410;  // the continue token expired: the list starts over
      if (logger_) {
        logger_->warn("kubernetes: {}", body.error().message);
      }
      co_return std::nullopt;
    }
    auto page = ParseKubeList(resource, *body);
    if (!page) {
      if (logger_) {
        logger_->warn("kubernetes: GET {}: {}", target, page.error().message);
      }
      co_return std::nullopt;
    }
    Touch(resource);
    counters_->skipped += page->skipped.size();
    for (const std::string& problem : page->skipped) {
      if (logger_ && logged++ < kMaxSkipLogsPerList) {
        logger_->warn("kubernetes: left out: {}", problem);
      }
    }
    std::move(page->pods.begin(), page->pods.end(), std::back_inserter(batch.pods));
    std::move(page->namespaces.begin(), page->namespaces.end(),
              std::back_inserter(batch.namespaces));
    std::move(page->nodes.begin(), page->nodes.end(), std::back_inserter(batch.nodes));
    batch.resource_version = page->resource_version;
    continue_token = page->continue_token;
  } while (!continue_token.empty());
  co_return batch;
}

asio::awaitable<KubeWatchEnd> KubeSource::WatchOnce(KubeResource resource,
                                                    std::string& resource_version, bool& gone) {
  const std::string target = Base(resource) + "?watch=1&allowWatchBookmarks=true&resourceVersion=" +
                             QueryValue(resource_version) +
                             "&timeoutSeconds=" + std::to_string(options_.watch_timeout.count());
  auto on_lines = [this, resource, &resource_version,
                   &gone](std::vector<std::string> lines) -> asio::awaitable<bool> {
    Touch(resource);  // lines came: the server is there (the opening is on_open's)
    KubeBatch batch;
    batch.resource = resource;
    bool keep_going = true;
    for (const std::string& line : lines) {
      auto event = ParseKubeEvent(resource, line);
      if (!event) {
        // A bad object (or line) is left out, like a bad item of a list; the watch goes on.
        ++counters_->skipped;
        if (logger_) {
          logger_->warn("kubernetes: left out: {}", event.error().message);
        }
        continue;
      }
      if (event->type == KubeEventType::kError) {
        gone = event->Gone();
        if (logger_ && !gone) {
          logger_->warn("kubernetes: watch {}: ERROR {}: {}", KubeResourceName(resource),
                        event->error_code, event->error_message);
        }
        keep_going = false;
        break;
      }
      resource_version = event->resource_version;
      if (event->type == KubeEventType::kBookmark) {
        ++counters_->bookmarks;
        continue;
      }
      ++counters_->events;
      ApplyEvent(batch, *event);
      batch.resource_version = resource_version;
    }
    if (!batch.pods.empty() || !batch.namespaces.empty() || !batch.nodes.empty() ||
        !batch.deleted.empty()) {
      Post(std::move(batch));
    }
    co_return keep_going;
  };
  auto& watching = counters_->watching.at(Index(resource));
  KubeWatchEnd end = co_await client_->Watch(target, options_.watch_timeout, on_lines, [&] {
    watching.store(true);
    Touch(resource);
  });
  watching.store(false);
  if (end.status == 410) {
    gone = true;
  }
  co_return end;
}

asio::awaitable<bool> KubeSource::ListStep(KubeResource resource, bool& listed,
                                           std::string& version,
                                           std::chrono::milliseconds& backoff) {
  bool gone = false;
  auto batch = co_await List(resource, gone);
  if (!batch) {
    ++(gone ? counters_->gone : counters_->errors);
    co_await Sleep(gone ? options_.initial_backoff : backoff);
    backoff = gone ? backoff : std::min(backoff * 2, options_.max_backoff);
    co_return false;
  }
  version = batch->resource_version;
  ++counters_->lists;
  if (listed) {
    ++counters_->relists;
  }
  if (logger_) {
    logger_->log(listed ? spdlog::level::info : spdlog::level::debug,
                 "kubernetes: listed {} {} at resourceVersion {}",
                 batch->pods.size() + batch->namespaces.size() + batch->nodes.size(),
                 KubeResourceName(resource), version);
  }
  listed = true;
  backoff = options_.initial_backoff;
  Post(std::move(*batch));
  co_return true;
}

asio::awaitable<void> KubeSource::Follow(KubeResource resource, milliseconds first_wait) {
  if (first_wait.count() > 0) {
    co_await Sleep(first_wait);
  }
  auto backoff = options_.initial_backoff;
  const std::string_view name = KubeResourceName(resource);
  std::string version;
  bool listed = false;
  bool need_list = true;
  bool short_watch = false;
  for (;;) {
    const bool fresh = need_list;
    if (need_list && !co_await ListStep(resource, listed, version, backoff)) {
      continue;
    }
    need_list = false;
    bool gone = false;
    const auto started = Clock::now();
    const KubeWatchEnd end = co_await WatchOnce(resource, version, gone);
    if (gone) {
      ++counters_->gone;
      if (logger_) {
        logger_->info("kubernetes: watch {}: resourceVersion {} is gone; listing again", name,
                      version);
      }
      // Gone right after its list: the server keeps less history than a list takes. Wait
      // rather than list in a loop.
      if (fresh) {
        co_await Sleep(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
      need_list = true;
      continue;
    }
    if (end.opened) {
      backoff = options_.initial_backoff;
    }
    if (end.clean) {
      ++counters_->watch_restarts;
      const bool was_short = Clock::now() - started < kShortWatch;
      if (was_short && short_watch) {
        co_await Sleep(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
      short_watch = was_short;
      continue;
    }
    ++counters_->errors;
    if (logger_) {
      logger_->warn("kubernetes: {}; listing again in {} ms", end.message, backoff.count());
    }
    co_await Sleep(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
    need_list = true;
  }
}

}  // namespace bulkhead::inventory
