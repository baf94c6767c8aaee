#!/usr/bin/env python3
"""A small Kubernetes API server of the tests' own (python3 standard library only).

A real kube-apiserver cannot run on the test machine (Debian has none and no other registry is
reachable), so bulkhead's tests talk to this one. It speaks the wire format of the parts bulkhead
reads (core/v1 pods, namespaces and nodes): JSON lists with `metadata.resourceVersion` and
`metadata.continue`, `limit`/`continue` pagination, chunked watch streams of
ADDED/MODIFIED/DELETED/BOOKMARK events from a resourceVersion, `410 Gone` for a version older than
the kept history (an HTTP 410 Status for a list with an expired continue token or a watch asked
from a compacted version before the stream opens is never sent: like the real server, a watch
answers 200 and then one ERROR event whose object is a Status with code 410), HTTPS with a CA and
server certificate it makes with the openssl command, and a bearer token check (401 Status
otherwise).

Command line:
  kube_api_server.py --dir DIR [--bind ADDR] [--port N] [--control-port N] [--token TOKEN]
                     [--san SAN,...] [--sans-only] [--bookmark-interval SECONDS]
                     [--history N]
    --dir     where it writes ca.crt, ca.key, server.crt, server.key (made once; kept when they
              exist) and, once both ports listen, `ready`: {"port": N, "control_port": N}
              (written through a temp file and rename, so a reader never sees half of it).
    --bind    the API's address (default 127.0.0.1; an IPv6 address such as ::1 works). The
              control port is always on 127.0.0.1.
    --port, --control-port: 0 (default) picks a free port (see `ready`).
    --token   the bearer token accepted at start (default "test-token").
    --san     extra subjectAltNames for the server certificate (IP:10.0.0.1,DNS:api.local); it
              always has DNS:localhost, IP:127.0.0.1 and IP:::1, unless --sans-only (then exactly
              the --san names: a test of name verification).
    --bookmark-interval: seconds between BOOKMARK events on watches that allow them (default 1).
    --history N: keep only the last N events (default 0: all), as etcd's compaction window does;
              a watch from before them gets 410.

API (all need `Authorization: Bearer <token>`):
  GET /api/v1/{pods,namespaces,nodes}[?limit=N&continue=TOKEN]
  GET /api/v1/{pods,namespaces,nodes}?watch=1&resourceVersion=RV[&timeoutSeconds=N]
      [&allowWatchBookmarks=true]   (RV empty or "0": ADDED events for every current object first)
  GET /version

Control (HTTP on 127.0.0.1:control_port; POST / with one JSON object; answers
{"ok": true, "resourceVersion": "N", ...} or {"ok": false, "error": "..."} with status 400):
  {"cmd": "upsert", "kind": "pod", "object": {...}}        a whole object as the API gives it
  {"cmd": "upsert", "kind": "pod", "namespace": "shop", "name": "api-1", "uid": "u1",
   "labels": {...}, "node": "node-a", "ips": ["10.1.0.5", "fd00:1::5"], "phase": "Running",
   "hostNetwork": false}                                    or built from these fields (an
                                                            existing pod keeps its uid)
  {"cmd": "upsert", "kind": "namespace", "name": "shop", "labels": {...}}
  {"cmd": "upsert", "kind": "node", "name": "node-a", "addresses": ["192.0.2.1"]}
        (InternalIP entries; "addresses": [{"type": ..., "address": ...}] as the API gives them
        also works)
  {"cmd": "delete", "kind": "pod", "namespace": "shop", "name": "api-1"}   (nodes, namespaces:
        "name")
  {"cmd": "compact"}            forget the history: a watch from any earlier version gets 410,
                                a list's continue token from before it gets HTTP 410
  {"cmd": "pause", "seconds": S}  close every open watch and answer nothing for S seconds
                                (connections are accepted and closed without an answer)
  {"cmd": "close_watches"}     end every open watch abruptly (no final chunk)
  {"cmd": "expire_watches"}    end every open watch with an ERROR event of code 410 and the final
                                chunk, as kube-apiserver does when a watcher's version has fallen
                                out of its watch cache
  {"cmd": "set_token", "token": "T"}
  {"cmd": "bookmark"}          send a BOOKMARK on every watch that allows them, now
  {"cmd": "stats"}             {"requests": {path: count}, "unauthorized": N, "watches": N open,
                                "resourceVersion": "N"}
"""

import argparse
import base64
import copy
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESOURCES = {"pods": "Pod", "namespaces": "Namespace", "nodes": "Node"}
KINDS = {"pod": "pods", "namespace": "namespaces", "node": "nodes"}


def status_object(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Store:
    """Objects, their resourceVersions and the event history, under one condition variable."""

    def __init__(self, token, history_limit=0):
        self.cond = threading.Condition()
        self.history_limit = history_limit
        self.rv = 1
        self.objects = {r: {} for r in RESOURCES}  # resource -> key -> object
        self.history = []  # (rv, resource, type, object)
        self.compacted_rv = 0  # versions below this are gone
        self.token = token
        self.paused_until = 0.0
        self.watch_epoch = 0  # bumped to close every open watch
        self.bookmark_epoch = 0
        self.expire_epoch = 0
        self.requests = {}
        self.unauthorized = 0
        self.open_watches = 0

    def upsert(self, resource, key, obj):
        with self.cond:
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            kind = "MODIFIED" if key in self.objects[resource] else "ADDED"
            self.objects[resource][key] = obj
            self.history.append((self.rv, resource, kind, obj))
            self.trim()
            self.cond.notify_all()
            return self.rv

    def trim(self):
        if self.history_limit and len(self.history) > self.history_limit:
            dropped = self.history[:len(self.history) - self.history_limit]
            self.history = self.history[len(dropped):]
            self.compacted_rv = dropped[-1][0] + 1

    def delete(self, resource, key):
        with self.cond:
            obj = self.objects[resource].pop(key, None)
            if obj is None:
                raise ValueError("no %s %s" % (resource, key))
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.history.append((self.rv, resource, "DELETED", obj))
            self.trim()
            self.cond.notify_all()
            return self.rv

    def compact(self):
        with self.cond:
            self.history = []
            self.compacted_rv = self.rv + 1
            self.cond.notify_all()


def make_certs(directory, sans, sans_only=False):
    """A CA and a server certificate signed by it (openssl command), unless they exist."""
    ca_crt = os.path.join(directory, "ca.crt")
    ca_key = os.path.join(directory, "ca.key")
    crt = os.path.join(directory, "server.crt")
    key = os.path.join(directory, "server.key")
    if all(os.path.exists(p) for p in (ca_crt, ca_key, crt, key)):
        return crt, key

    def run(*args):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    # ECDSA P-256: key generation takes milliseconds where RSA takes seconds.
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    run("req", "-x509", *ec, "-nodes", "-keyout", ca_key, "-out", ca_crt,
        "-days", "2", "-subj", "/CN=bulkhead-test-ca")
    csr = os.path.join(directory, "server.csr")
    run("req", *ec, "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=kube-apiserver")
    ext = os.path.join(directory, "server.ext")
    defaults = [] if sans_only else ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    all_sans = defaults + [s for s in sans if s]
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % ",".join(all_sans))
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    return crt, key


def pod_from_fields(cmd):
    ips = cmd.get("ips", [])
    obj = {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": cmd["name"], "namespace": cmd.get("namespace", "default"),
                     "uid": cmd.get("uid") or str(uuid.uuid4()),
                     "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "labels": cmd.get("labels", {})},
        "spec": {"nodeName": cmd.get("node", ""), "hostNetwork": cmd.get("hostNetwork", False),
                 "containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": cmd.get("phase", "Running")},
    }
    if ips:
        obj["status"]["podIP"] = ips[0]
        obj["status"]["podIPs"] = [{"ip": ip} for ip in ips]
    return obj


def object_from_command(resource, cmd):
    if "object" in cmd:
        return copy.deepcopy(cmd["object"])
    if resource == "pods":
        return pod_from_fields(cmd)
    meta = {"name": cmd["name"], "uid": cmd.get("uid") or str(uuid.uuid4()),
            "labels": cmd.get("labels", {})}
    if resource == "namespaces":
        meta["labels"].setdefault("kubernetes.io/metadata.name", cmd["name"])
        return {"kind": "Namespace", "apiVersion": "v1", "metadata": meta,
                "status": {"phase": "Active"}}
    addresses = []
    for a in cmd.get("addresses", []):
        addresses.append(a if isinstance(a, dict) else {"type": "InternalIP", "address": a})
    addresses.append({"type": "Hostname", "address": cmd["name"]})
    return {"kind": "Node", "apiVersion": "v1", "metadata": meta,
            "status": {"addresses": addresses}}


def object_key(resource, obj):
    meta = obj.get("metadata", {})
    if resource == "pods":
        return "%s/%s" % (meta.get("namespace", ""), meta.get("name", ""))
    return meta.get("name", "")


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-api-test"

    def log_message(self, fmt, *args):  # quiet: tests read their own output
        pass

    def setup(self):
        self.request.settimeout(10)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.handshake_failed = True
            self.rfile = self.wfile = None
            return
        self.handshake_failed = False
        self.request.settimeout(None)
        super().setup()

    def handle(self):
        if not self.handshake_failed:
            try:
                super().handle()
            except (ssl.SSLError, OSError):
                pass

    def finish(self):
        if not self.handshake_failed:
            try:
                super().finish()
            except (ssl.SSLError, OSError):
                pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's name)
        store = self.server.store
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        with store.cond:
            store.requests[url.path] = store.requests.get(url.path, 0) + 1
            paused = time.monotonic() < store.paused_until
            token = store.token
        if paused:
            self.close_connection = True
            self.request.close()
            return
        if self.headers.get("Authorization", "") != "Bearer " + token:
            with store.cond:
                store.unauthorized += 1
            self.send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
            return
        if url.path == "/version":
            self.send_json(200, {"major": "1", "minor": "29", "gitVersion": "v1.29.0-test"})
            return
        parts = url.path.strip("/").split("/")
        if len(parts) != 3 or parts[:2] != ["api", "v1"] or parts[2] not in RESOURCES:
            self.send_json(404, status_object(404, "NotFound", "the server could not find the "
                                              "requested resource"))
            return
        resource = parts[2]
        if query.get("watch") in ("1", "true"):
            self.watch(resource, query)
        else:
            self.list(resource, query)

    def list(self, resource, query):
        store = self.server.store
        limit = int(query.get("limit", "0") or "0")
        start = ""
        with store.cond:
            list_rv = store.rv
            if query.get("continue"):
                try:
                    token = json.loads(base64.urlsafe_b64decode(query["continue"] + "=="))
                    list_rv, start = int(token["rv"]), token["start"]
                except (ValueError, KeyError, TypeError):
                    self.send_json(400, status_object(400, "BadRequest", "invalid continue"))
                    return
                if list_rv < store.compacted_rv:
                    self.send_json(410, status_object(
                        410, "Expired", "The provided continue parameter is too old to display "
                        "a consistent list result. You can start a new list without the "
                        "continue parameter."))
                    return
            keys = sorted(k for k in store.objects[resource] if k > start)
            more = limit > 0 and len(keys) > limit
            if more:
                keys = keys[:limit]
            items = [copy.deepcopy(store.objects[resource][k]) for k in keys]
            remaining = len([k for k in store.objects[resource] if k > (keys[-1] if keys else start)])
        meta = {"resourceVersion": str(list_rv)}
        if more:
            token = json.dumps({"v": "meta.k8s.io/v1", "rv": list_rv, "start": keys[-1]})
            meta["continue"] = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
            meta["remainingItemCount"] = remaining
        for item in items:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        self.send_json(200, {"kind": RESOURCES[resource] + "List", "apiVersion": "v1",
                             "metadata": meta, "items": items})

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, resource, query):
        store = self.server.store
        timeout = float(query.get("timeoutSeconds", "1800") or "1800")
        bookmarks = query.get("allowWatchBookmarks") == "true"
        rv_text = query.get("resourceVersion", "")
        try:
            since = int(rv_text) if rv_text not in ("", "0") else None
        except ValueError:
            self.send_json(400, status_object(400, "BadRequest", "invalid resourceVersion"))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + timeout
        interval = self.server.bookmark_interval
        next_bookmark = time.monotonic() + interval
        with store.cond:
            store.open_watches += 1
            epoch, bookmark_epoch = store.watch_epoch, store.bookmark_epoch
            expire_epoch = store.expire_epoch
            pending = []
            if since is None:
                for obj in store.objects[resource].values():
                    pending.append(("ADDED", obj))
                since = store.rv
            elif since < store.compacted_rv - 1:
                pending.append(("ERROR", status_object(
                    410, "Expired", "too old resource version: %d (%d)" %
                    (since, store.compacted_rv - 1))))
        try:
            while True:
                for kind, obj in pending:
                    self.write_chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                    if kind == "ERROR":
                        self.write_chunk(b"")
                        return
                pending = []
                now = time.monotonic()
                if now >= deadline:
                    self.write_chunk(b"")  # the final chunk: a clean end
                    return
                send_bookmark = False
                with store.cond:
                    store.cond.wait(timeout=min(deadline - now, max(0.05, next_bookmark - now)))
                    if store.watch_epoch != epoch:
                        self.close_connection = True
                        self.request.shutdown(socket.SHUT_RDWR)
                        return
                    for rv, res, kind, obj in store.history:
                        if res == resource and rv > since:
                            pending.append((kind, obj))
                            since = rv
                    if store.expire_epoch != expire_epoch:
                        pending = [("ERROR", status_object(
                            410, "Expired", "too old resource version: %d (%d)" %
                            (since, store.rv)))]
                        continue
                    if store.bookmark_epoch != bookmark_epoch:
                        bookmark_epoch = store.bookmark_epoch
                        send_bookmark = True
                    current = store.rv
                if bookmarks and (send_bookmark or time.monotonic() >= next_bookmark):
                    next_bookmark = time.monotonic() + interval
                    pending.append(("BOOKMARK", {"kind": RESOURCES[resource], "apiVersion": "v1",
                                                 "metadata": {"resourceVersion": str(current)}}))
        except (OSError, ssl.SSLError):
            self.close_connection = True
        finally:
            with store.cond:
                store.open_watches -= 1


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, family, store, context, bookmark_interval):
        self.address_family = family
        self.store = store
        self.context = context
        self.bookmark_interval = bookmark_interval
        super().__init__(address, ApiHandler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # The handshake happens in the handler's thread: a client that stalls it blocks no one.
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        try:
            cmd = json.loads(self.rfile.read(length))
            body = run_command(self.server.store, cmd)
            body["ok"] = True
            code = 200
        except (ValueError, KeyError, TypeError) as e:
            body, code = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}, 400
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def run_command(store, cmd):
    name = cmd["cmd"]
    if name in ("upsert", "delete"):
        resource = KINDS[cmd["kind"]]
        if name == "upsert":
            if "object" not in cmd and "uid" not in cmd:
                key = ("%s/%s" % (cmd.get("namespace", "default"), cmd["name"])
                       if resource == "pods" else cmd["name"])
                with store.cond:
                    existing = store.objects[resource].get(key)
                if existing is not None:
                    cmd = dict(cmd, uid=existing["metadata"].get("uid"))
            obj = object_from_command(resource, cmd)
            rv = store.upsert(resource, object_key(resource, obj), obj)
        else:
            key = ("%s/%s" % (cmd.get("namespace", "default"), cmd["name"])
                   if resource == "pods" else cmd["name"])
            rv = store.delete(resource, key)
        return {"resourceVersion": str(rv)}
    with store.cond:
        if name == "compact":
            store.history = []
            store.compacted_rv = store.rv + 1
        elif name == "pause":
            store.paused_until = time.monotonic() + float(cmd["seconds"])
            store.watch_epoch += 1
        elif name == "close_watches":
            store.watch_epoch += 1
        elif name == "expire_watches":
            store.expire_epoch += 1
        elif name == "set_token":
            store.token = str(cmd["token"])
        elif name == "bookmark":
            store.bookmark_epoch += 1
        elif name == "stats":
            return {"requests": dict(store.requests), "unauthorized": store.unauthorized,
                    "watches": store.open_watches, "resourceVersion": str(store.rv)}
        else:
            raise ValueError("unknown command " + name)
        store.cond.notify_all()
        return {"resourceVersion": str(store.rv)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--san", default="")
    parser.add_argument("--sans-only", action="store_true")
    parser.add_argument("--bookmark-interval", type=float, default=1.0)
    parser.add_argument("--history", type=int, default=0)
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    crt, key = make_certs(args.dir, args.san.split(","), args.sans_only)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    store = Store(args.token, args.history)
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    api = ApiServer((args.bind, args.port), family, store, context, args.bookmark_interval)
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), ControlHandler)
    control.daemon_threads = True
    control.store = store
    threading.Thread(target=control.serve_forever, daemon=True).start()
    ready = os.path.join(args.dir, "ready")
    with open(ready + ".tmp", "w") as f:
        json.dump({"port": api.server_address[1], "control_port": control.server_address[1],
                   "pid": os.getpid()}, f)
    os.rename(ready + ".tmp", ready)
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
