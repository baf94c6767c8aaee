#include "inventory/kube_api.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <optional>

#include <boost/json.hpp>

#include "codec/yaml_reader.h"

namespace bulkhead::inventory {
namespace {

namespace json = boost::json;

// A field's dotted path in the answer ("items[3].status.podIPs"), for messages only.
std::string Join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

std::string Index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// Reads of one JSON object that record the first problem as "<path>: <problem>". Every read
// after a failure is harmless (it returns an empty value), so a parser reads all it needs and
// checks `ok()` once.
class ObjectReader {
 public:
  ObjectReader(const json::object* obj, std::string path, std::string& error)
      : obj_(obj), path_(std::move(path)), error_(error) {}

  bool ok() const { return error_.empty(); }
  const std::string& path() const { return path_; }
  void Fail(std::string_view key, std::string_view problem) {
    if (error_.empty()) {
      error_ = Join(path_, key) + ": " + std::string(problem);
    }
  }
  const json::value* Find(std::string_view key) const {
    if (obj_ == nullptr) {
      return nullptr;
    }
    const json::value* v = obj_->if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
  }
  std::string String(std::string_view key, bool required) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      if (required) {
        Fail(key, "missing");
      }
      return {};
    }
    if (!v->is_string()) {
      Fail(key, "expected a string");
      return {};
    }
    if (required && v->get_string().empty()) {
      Fail(key, "empty");
    }
    return std::string(v->get_string());
  }
  bool Bool(std::string_view key) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      return false;
    }
    if (!v->is_bool()) {
      Fail(key, "expected true or false");
      return false;
    }
    return v->get_bool();
  }
  // A nested object; absent or null: a reader over nothing (every field absent).
  ObjectReader Object(std::string_view key, bool required) {
    const json::value* v = Find(key);
    if (v == nullptr && required) {
      Fail(key, "missing");
    } else if (v != nullptr && !v->is_object()) {
      Fail(key, "expected an object");
      v = nullptr;
    }
    return ObjectReader(v == nullptr ? nullptr : &v->get_object(), Join(path_, key), error_);
  }
  // An array (absent or null: empty).
  const json::array* Array(std::string_view key) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      return nullptr;
    }
    if (!v->is_array()) {
      Fail(key, "expected an array");
      return nullptr;
    }
    return &v->get_array();
  }
  // Element i of the array `key` (from Array(key)) as an object, sharing this reader's error.
  ObjectReader Element(std::string_view key, const json::array& array, std::size_t i) {
    const json::value& v = array[i];
    if (!v.is_object()) {
      Fail(Index(key, i), "expected an object");
      return ObjectReader(nullptr, Index(Join(path_, key), i), error_);
    }
    return ObjectReader(&v.get_object(), Index(Join(path_, key), i), error_);
  }
  policy::Labels StringMap(std::string_view key) {
    policy::Labels out;
    ObjectReader sub = Object(key, false);
    if (sub.obj_ == nullptr) {
      return out;
    }
    for (const auto& kv : *sub.obj_) {
      if (!kv.value().is_string()) {
        sub.Fail(kv.key(), "expected a string");
        return {};
      }
      out.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
    }
    return out;
  }

 private:
  const json::object* obj_;
  std::string path_;
  std::string& error_;
};

// The address in its canonical text (inet_ntop), or nullopt when `text` is not an IPv4 or IPv6
// address. Canonical so that "fd00::0:1" and "fd00::1" are one member of a set.
std::optional<std::string> CanonicalAddress(const std::string& text) {
  std::array<char, INET6_ADDRSTRLEN> out{};
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    ::inet_ntop(AF_INET, &v4, out.data(), out.size());
  } else if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    ::inet_ntop(AF_INET6, &v6, out.data(), out.size());
  } else {
    return std::nullopt;
  }
  return std::string(out.data());
}

void AddAddress(std::vector<std::string>& addresses, const std::string& address) {
  if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
    addresses.push_back(address);
  }
}

// status.podIPs ([{"ip": ...}]), else status.podIP (API servers before dual-stack).
std::vector<std::string> PodAddresses(ObjectReader& status) {
  std::vector<std::string> out;
  if (const json::array* ips = status.Array("podIPs"); ips != nullptr && !ips->empty()) {
    for (std::size_t i = 0; i < ips->size() && status.ok(); ++i) {
      ObjectReader entry = status.Element("podIPs", *ips, i);
      const std::string ip = entry.String("ip", true);
      if (!entry.ok()) {
        break;
      }
      if (auto canonical = CanonicalAddress(ip)) {
        AddAddress(out, *canonical);
      } else {
        entry.Fail("ip", "not an IP address");
      }
    }
    return out;
  }
  const std::string ip = status.String("podIP", false);
  if (!ip.empty()) {
    if (auto canonical = CanonicalAddress(ip)) {
      out.push_back(*canonical);
    } else {
      status.Fail("podIP", "not an IP address");
    }
  }
  return out;
}

KubePod ReadPod(ObjectReader& item) {
  KubePod pod;
  ObjectReader meta = item.Object("metadata", true);
  pod.uid = meta.String("uid", true);
  pod.namespace_name = meta.String("namespace", true);
  pod.name = meta.String("name", true);
  pod.labels = meta.StringMap("labels");
  ObjectReader spec = item.Object("spec", false);
  pod.node_name = spec.String("nodeName", false);
  pod.host_network = spec.Bool("hostNetwork");
  ObjectReader status = item.Object("status", false);
  const std::string phase = status.String("phase", false);
  pod.addresses = PodAddresses(status);
  // A finished pod's address is free for the next pod kubelet starts: it names nobody.
  pod.terminated = phase == "Succeeded" || phase == "Failed";
  if (pod.terminated) {
    pod.addresses.clear();
  }
  return pod;
}

KubeNamespace ReadNamespace(ObjectReader& item) {
  KubeNamespace ns;
  ObjectReader meta = item.Object("metadata", true);
  ns.name = meta.String("name", true);
  ns.labels = meta.StringMap("labels");
  return ns;
}

KubeNode ReadNode(ObjectReader& item) {
  KubeNode node;
  ObjectReader meta = item.Object("metadata", true);
  node.name = meta.String("name", true);
  ObjectReader status = item.Object("status", false);
  const json::array* addresses = status.Array("addresses");
  if (addresses == nullptr) {
    return node;
  }
  for (std::size_t i = 0; i < addresses->size() && status.ok(); ++i) {
    ObjectReader address = status.Element("addresses", *addresses, i);
    const std::string type = address.String("type", true);
    const std::string text = address.String("address", true);
    if (!address.ok()) {
      break;
    }
    if (type != "InternalIP" && type != "ExternalIP") {
      continue;  // Hostname, InternalDNS, ExternalDNS: names, not addresses
    }
    auto canonical = CanonicalAddress(text);
    if (!canonical) {
      address.Fail("address", "not an IP address");
      break;
    }
    AddAddress(node.addresses, *canonical);
  }
  return node;
}

// Reads one object of `resource` into the page's or event's vectors.
template <typename Sink>
bool ReadObject(KubeResource resource, ObjectReader& item, Sink&& sink) {
  switch (resource) {
    case KubeResource::kPods: {
      KubePod pod = ReadPod(item);
      if (item.ok()) {
        sink(std::move(pod));
      }
      break;
    }
    case KubeResource::kNamespaces: {
      KubeNamespace ns = ReadNamespace(item);
      if (item.ok()) {
        sink(std::move(ns));
      }
      break;
    }
    case KubeResource::kNodes: {
      KubeNode node = ReadNode(item);
      if (item.ok()) {
        sink(std::move(node));
      }
      break;
    }
  }
  return item.ok();
}

std::string_view ListKind(KubeResource resource) {
  switch (resource) {
    case KubeResource::kPods:
      return "PodList";
    case KubeResource::kNamespaces:
      return "NamespaceList";
    case KubeResource::kNodes:
      return "NodeList";
  }
  return "List";
}

// `storage`: where the tree's values are allocated. The parsers give each answer an arena
// (json::monotonic_resource) that lives as long as the call: a page of 500 pods is thousands of
// small values, and with malloc per value, a relist of 150,000 pods slowed down 5x as the
// process's heap grew (bench/README.md, "Cluster identity").
boost::system::result<json::object, KubeError> ParseObject(std::string_view body,
                                                           std::string_view what,
                                                           json::storage_ptr storage) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, std::move(storage));
  if (ec) {
    return KubeFail(std::string(what) + ": bad JSON: " + ec.message());
  }
  if (!v.is_object()) {
    return KubeFail(std::string(what) + ": expected an object");
  }
  return std::move(v.get_object());
}

struct PageSink {
  KubeListPage& page;
  void operator()(KubePod&& pod) const { page.pods.push_back(std::move(pod)); }
  void operator()(KubeNamespace&& ns) const { page.namespaces.push_back(std::move(ns)); }
  void operator()(KubeNode&& node) const { page.nodes.push_back(std::move(node)); }
};

struct EventSink {
  KubeEvent& event;
  void operator()(KubePod&& pod) const { event.pod = std::move(pod); }
  void operator()(KubeNamespace&& ns) const { event.namespace_object = std::move(ns); }
  void operator()(KubeNode&& node) const { event.node = std::move(node); }
};

std::optional<KubeEventType> EventType(std::string_view type) {
  static constexpr std::array<std::pair<std::string_view, KubeEventType>, 5> kTypes{{
      {"ADDED", KubeEventType::kAdded},
      {"MODIFIED", KubeEventType::kModified},
      {"DELETED", KubeEventType::kDeleted},
      {"BOOKMARK", KubeEventType::kBookmark},
      {"ERROR", KubeEventType::kError},
  }};
  for (const auto& [name, value] : kTypes) {
    if (name == type) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view KubeResourceName(KubeResource resource) {
  switch (resource) {
    case KubeResource::kPods:
      return "pods";
    case KubeResource::kNamespaces:
      return "namespaces";
    case KubeResource::kNodes:
      return "nodes";
  }
  return "unknown";
}

bool IsKubeToken(std::string_view token) {
  constexpr std::size_t kMaxTokenBytes = 4096;
  return !token.empty() && token.size() <= kMaxTokenBytes &&
         std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '-' || c == '_' || c == '.' || c == '=' || c == '+' || c == '/' || c == '~';
         });
}

boost::system::result<KubeListPage, KubeError> ParseKubeList(KubeResource resource,
                                                             std::string_view body) {
  const std::string what(ListKind(resource));
  json::monotonic_resource arena(body.size() * 2);
  auto root = ParseObject(body, what, &arena);
  if (!root) {
    return root.error();
  }
  KubeListPage page;
  page.resource = resource;
  std::string error;
  ObjectReader list(&*root, "", error);
  ObjectReader meta = list.Object("metadata", true);
  page.resource_version = meta.String("resourceVersion", true);
  page.continue_token = meta.String("continue", false);
  const json::value* items = list.Find("items");
  if (list.ok() && items != nullptr && !items->is_array()) {
    list.Fail("items", "expected an array");
  }
  if (list.ok() && !IsKubeToken(page.resource_version)) {
    list.Fail("metadata.resourceVersion", "not a resource version");
  }
  if (list.ok() && !page.continue_token.empty() && !IsKubeToken(page.continue_token)) {
    list.Fail("metadata.continue", "not a continue token");
  }
  if (!list.ok()) {
    return KubeFail(what + ": " + error);
  }
  if (items == nullptr) {
    return page;  // `items: null`: an empty list as Go encodes it
  }
  const json::array& array = items->get_array();
  for (std::size_t i = 0; i < array.size(); ++i) {
    std::string item_error;
    if (!array[i].is_object()) {
      page.skipped.push_back(what + ": " + Index("items", i) + ": expected an object");
      continue;
    }
    ObjectReader item(&array[i].get_object(), Index("items", i), item_error);
    if (!ReadObject(resource, item, PageSink{page})) {
      page.skipped.push_back(what);
      page.skipped.back().append(": ").append(item_error);
    }
  }
  return page;
}

boost::system::result<KubeEvent, KubeError> ParseKubeEvent(KubeResource resource,
                                                           std::string_view line) {
  const std::string what = std::string("watch ") + std::string(KubeResourceName(resource));
  json::monotonic_resource arena(line.size() * 2);
  auto root = ParseObject(line, what, &arena);
  if (!root) {
    return root.error();
  }
  std::string error;
  ObjectReader event_reader(&*root, "", error);
  const std::string type_text = event_reader.String("type", true);
  ObjectReader object = event_reader.Object("object", true);
  if (!event_reader.ok()) {
    return KubeFail(what + ": " + error);
  }
  auto type = EventType(type_text);
  if (!type) {
    return KubeFail(what + ": type: unknown event type " + codec::Quote(type_text));
  }
  KubeEvent event;
  event.type = *type;
  if (event.type == KubeEventType::kError) {
    // object is a Status: {"kind":"Status","status":"Failure","message":...,"code":410}
    const json::value* code = object.Find("code");
    if (code == nullptr || !code->is_number() || !code->is_int64()) {
      object.Fail("code", code == nullptr ? "missing" : "expected an integer");
      return KubeFail(what + ": " + error);
    }
    event.error_code = code->get_int64();
    event.error_message = KubeStatusMessage(json::serialize(*root->if_contains("object")));
    return event;
  }
  ObjectReader meta = object.Object("metadata", true);
  event.resource_version = meta.String("resourceVersion", true);
  if (object.ok() && !IsKubeToken(event.resource_version)) {
    object.Fail("metadata.resourceVersion", "not a resource version");
  }
  if (!object.ok()) {
    return KubeFail(what + ": " + error);
  }
  if (event.type == KubeEventType::kBookmark) {
    return event;  // a bookmark's object carries only its resourceVersion
  }
  if (!ReadObject(resource, object, EventSink{event})) {
    return KubeFail(what + ": " + error);
  }
  return event;
}

std::string KubeStatusMessage(std::string_view body) {
  constexpr std::size_t kMaxMessage = 200;
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return {};
  }
  const json::value* message = v.get_object().if_contains("message");
  if (message == nullptr || !message->is_string()) {
    return {};
  }
  std::string out(std::string_view(message->get_string()).substr(0, kMaxMessage));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = ' ';
    }
  }
  return out;
}

}  // namespace bulkhead::inventory
