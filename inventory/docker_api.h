#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "policy/model.h"

// The Docker Engine API answers bulkhead reads, as plain values, and their parsers. Every answer
// is untrusted input: a parser returns the value or one line naming the field at fault
// ("container inspect: State.Pid: expected an integer"), never throws, never crashes. No I/O here:
// docker_client.h moves the bytes, docker_source.h decides when to ask.
namespace bulkhead::inventory {

// An error from the Docker API path: one line naming the socket, request or field at fault.
// Not an aggregate and not constructible from a string, so that in result<std::string,
// DockerError> (or result<SomeAggregate, DockerError>) a string is always the value; errors are
// made with DockerFail.
struct DockerError {
  DockerError() = default;
  std::string message;
};

inline DockerError DockerFail(std::string message) {
  DockerError e;
  e.message = std::move(message);
  return e;
}

// One network attachment of a container (NetworkSettings.Networks.<name>).
struct DockerEndpoint {
  std::string network_name;
  std::string network_id;
  std::string ipv4;     // empty when the network has no IPv4
  std::string ipv6;     // GlobalIPv6Address; empty when none
  std::string gateway;  // IPv4 gateway (the host's address on this network); may be empty
  std::string ipv6_gateway;
  std::string mac;
  friend bool operator==(const DockerEndpoint&, const DockerEndpoint&) = default;
};

// GET /containers/{id}/json, the fields bulkhead uses.
struct DockerContainer {
  std::string id;
  std::string name;  // without Docker's leading '/'
  policy::Labels labels;
  bool running = false;
  std::int64_t pid = 0;    // 0 when not running
  std::string started_at;  // RFC 3339 with nanoseconds, as Docker writes it (sorts as text)
  std::vector<DockerEndpoint> endpoints;  // sorted by network name
  // Config.Healthcheck.Test ({"CMD-SHELL", "curl -f x"}, {"CMD", "a", "b"}, {"NONE"}); empty when
  // the container has none.
  std::vector<std::string> healthcheck;
  // Config.Shell, the shell of CMD-SHELL health checks; empty: Docker's default /bin/sh -c.
  std::vector<std::string> shell;
  friend bool operator==(const DockerContainer&, const DockerContainer&) = default;
};

// GET /networks/{id}: the Linux bridge behind a bridge-driver network.
struct DockerNetwork {
  std::string id;
  std::string name;
  std::string driver;
  // Driver "bridge" only: Options["com.docker.network.bridge.name"], else "br-" + id[0:12].
  // Empty for other drivers (host, null, macvlan, overlay).
  std::string bridge;
  friend bool operator==(const DockerNetwork&, const DockerNetwork&) = default;
};

// GET /exec/{id}/json, the fields bulkhead reports about a session in a container.
struct DockerExec {
  std::string id;
  std::string container_id;
  std::vector<std::string> command;  // ProcessConfig.entrypoint, then ProcessConfig.arguments
  bool tty = false;
  std::string user;  // ProcessConfig.user; empty: the container's user
  bool privileged = false;
  bool running = false;
  friend bool operator==(const DockerExec&, const DockerExec&) = default;
};

enum class DockerEventKind : std::uint8_t {
  kContainerStart,
  kContainerDie,
  kNetworkConnect,
  kNetworkDisconnect,
  kExecCreate,  // a process was set up to run in a container (`docker exec`, a health check)
  kExecStart,
  kExecDie,
  kOther,   // a well-formed event bulkhead does not act on
  kResync,  // not from Docker: the source re-listed every container (after a (re)connect)
};

std::string_view DockerEventKindName(DockerEventKind kind);

// One line of GET /events.
struct DockerEvent {
  DockerEventKind kind = DockerEventKind::kOther;
  std::string container_id;    // container events: Actor.ID; network events: Attributes.container
  std::string container_name;  // container events only (Attributes.name)
  std::string network_id;      // network events only (Actor.ID)
  std::int64_t time_nano = 0;  // 0 when Docker sent none
  // Exec events: Attributes.execID, and the command as the Action shows it ("exec_create: sh -c
  // id" -> "sh -c id"; empty for exec_die). exec_die: Attributes.exitCode, -1 when absent.
  std::string exec_id;
  std::string exec_command;
  std::int64_t exit_code = -1;
  // exec_start as DockerSource reports it: the exec's inspect, when dockerd answered one.
  std::optional<DockerExec> exec;
  friend bool operator==(const DockerEvent&, const DockerEvent&) = default;
};

// The bodies below are whole HTTP response bodies (or one event line), as received.
boost::system::result<std::vector<std::string>, DockerError> ParseContainerIds(
    std::string_view body);
boost::system::result<DockerContainer, DockerError> ParseContainerInspect(std::string_view body);
boost::system::result<DockerNetwork, DockerError> ParseNetworkInspect(std::string_view body);
boost::system::result<DockerEvent, DockerError> ParseEvent(std::string_view line);
boost::system::result<DockerExec, DockerError> ParseExecInspect(std::string_view body);

// The command Docker runs for a container's health check, spelled as its exec events show it
// (entrypoint and arguments joined by spaces): {"CMD-SHELL", "x"} -> "/bin/sh -c x" (or the
// container's Config.Shell), {"CMD", "a", "b"} -> "a b"; empty for none, {"NONE"} or an unknown
// form, so no exec matches it.
std::string HealthcheckCommand(const DockerContainer& container);
// GET /version: "ApiVersion" ("1.41"), checked to be digits '.' digits.
boost::system::result<std::string, DockerError> ParseApiVersion(std::string_view body);

// Docker's error answers are {"message": "..."}: that message (control characters dropped, at
// most 200 characters), or empty when the body is not that shape.
std::string DockerErrorMessage(std::string_view body);

// The query string of the event stream bulkhead follows: container start/die, exec
// create/start/die and network connect/disconnect, URL-encoded, e.g. "/events?filters=%7B...%7D".
std::string EventsTarget();

// Maps what Docker reported to the inventory. `interfaces` maps container id to the host-side
// interface (veth) of that container; missing ids get no interface. Only running containers
// become workloads, sorted by name. Addresses are unique: when two containers claim one address
// (a container died, a new one got its address, and the dead one's state is stale), the address
// stays only with the container that started last. Host addresses are the gateways of the
// networks (the host's own addresses as containers see them), sorted and unique.
policy::Inventory BuildInventory(std::string host_name,
                                 const std::vector<DockerContainer>& containers,
                                 const std::map<std::string, std::string>& interfaces);

}  // namespace bulkhead::inventory
