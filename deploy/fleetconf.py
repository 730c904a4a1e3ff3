#!/usr/bin/env python3
"""Renders the balancer configurations of a batchcalld fleet from deploy/nginx/fleet.conf.in and
deploy/haproxy/fleet.cfg.in.

    python3 deploy/fleetconf.py --state DIR --listen 0.0.0.0:8080 --map /etc/batchcalld/placement.map \
        --instance inst-a=10.0.0.11:8080 --instance inst-b=10.0.0.12:8080
        [--haproxy-listen HOST:PORT] [--workers N] [--access-log PATH|off]

writes DIR/nginx.conf, DIR/haproxy.cfg and DIR/errors/*.http (HAProxy's JSON error responses),
creates DIR/tmp/ for nginx's temporary files, and creates the placement map files (MAP and
MAP.nginx, the forms `batchcalld admin placement` writes) empty when they do not exist yet, since
both balancers refuse to start without them. Instance names are the placement map's values:
1-64 characters of A-Z a-z 0-9 . _ -. Python 3 standard library only.
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ADDR_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$")
# Names the configurations use for themselves; an instance may not take them.
RESERVED = {"bc_hash", "bc_errors", "fleet"}

# HAProxy's own errors. Each says what happened and what to do, as the server's errors do.
ERRORS = {
    400: ("Bad Request", "bad_request",
          "the balancer could not parse this HTTP request; send valid HTTP/1.1", None),
    403: ("Forbidden", "forbidden", "the balancer refused this request", None),
    408: ("Request Timeout", "request_timeout",
          "the request did not arrive in time (10 s for the headers); send it again", None),
    413: ("Payload Too Large", "payload_too_large",
          "the body is larger than the balancer accepts (32 MB); uploads may be at most 21 MB", None),
    500: ("Internal Server Error", "internal_error",
          "the balancer failed to handle this request; retry after 2 s", 2),
    502: ("Service Unavailable", "unavailable",
          "the instance that holds this workspace sent an invalid answer or closed the "
          "connection (restarting or crashed); retry after 2 s", 2),
    503: ("Service Unavailable", "unavailable",
          "the instance that holds this workspace is not reachable (restarting, stopped or "
          "crashed); retry after 2 s", 2),
    504: ("Gateway Timeout", "gateway_timeout",
          "the instance that holds this workspace did not answer in time; retry after 5 s (a "
          "write may have been applied: read it back before repeating it)", 5),
}


def fail(msg):
    print(f"fleetconf: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_instance(spec):
    name, sep, addr = spec.partition("=")
    if not sep or not NAME_RE.match(name) or name in RESERVED:
        fail(f'--instance "{spec}": give NAME=HOST:PORT, NAME 1-64 characters of A-Z a-z 0-9 . _ - '
             f'(not {", ".join(sorted(RESERVED))})')
    m = ADDR_RE.match(addr)
    if not m or not 0 < int(m.group(2)) < 65536:
        fail(f'--instance "{spec}": the address must be HOST:PORT ([::1]:8080 for IPv6)')
    return name, addr


def error_response(status):
    """One HAProxy errorfile: a complete HTTP/1.1 response with CRLF line ends."""
    reason, code, message, retry = ERRORS[status]
    # 502 is answered as 503: to a client both mean "not reachable now, retry", as with nginx.
    shown = 503 if status == 502 else status
    body = '{"error":"%s","message":"%s"%s}\n' % (
        code, message, ',"retryAfter":%d' % retry if retry else "")
    head = [f"HTTP/1.1 {shown} {reason}", "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body.encode())}", "Cache-Control: no-store"]
    if retry:
        head.append(f"Retry-After: {retry}")
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def nginx_upstreams(instances):
    out = []
    # max_fails=0: a refused connection must not mark the instance failed for fail_timeout (10 s)
    # after it is back; keepalive: reuse connections to the instances.
    for name, addr in instances:
        out.append(f"  upstream {name} {{\n    server {addr} max_fails=0;\n    keepalive 32;\n  }}")
    servers = "".join(f"    server {addr} max_fails=0;\n" for _, addr in instances)
    out.append("  # Workspaces the map does not name: a consistent hash of the workspace id.\n"
               "  upstream bc_hash {\n    hash $bc_workspace consistent;\n"
               f"{servers}    keepalive 32;\n  }}")
    return "\n".join(out) + "\n"


def haproxy_backends(instances):
    out = []
    for name, addr in instances:
        out.append(f"backend {name}\n  server {name} {addr}\n")
    servers = "".join(f"  server {name} {addr}\n" for name, addr in instances)
    out.append("# Workspaces the map does not name: a consistent hash of the workspace id.\n"
               "backend bc_hash\n  balance hash var(txn.ws)\n  hash-type consistent\n" + servers)
    return "\n".join(out)


def render(template, values):
    with open(os.path.join(HERE, template)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        fail(f"{template}: unknown placeholders {left}")
    return text


def write(path, data, mode="w"):
    tmp = path + ".tmp"
    with open(tmp, mode) as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--state", required=True, help="directory for the configs, pid, logs, temp files")
    ap.add_argument("--listen", required=True, help="HOST:PORT the balancer listens on")
    ap.add_argument("--haproxy-listen", default=None,
                    help="HOST:PORT for HAProxy when both run side by side (default: --listen)")
    ap.add_argument("--map", required=True, help="the placement map (HAProxy form; MAP.nginx beside it)")
    ap.add_argument("--instance", action="append", required=True, metavar="NAME=HOST:PORT")
    ap.add_argument("--workers", default="auto", help="nginx worker_processes (default auto)")
    ap.add_argument("--access-log", default=None,
                    help="nginx access log path, or off (default STATE/access.log)")
    args = ap.parse_args()

    for listen in (args.listen, args.haproxy_listen or args.listen):
        if not ADDR_RE.match(listen):
            fail(f'--listen "{listen}": give HOST:PORT')
    if not (args.workers == "auto" or args.workers.isdigit()):
        fail("--workers: a number or auto")
    instances = [parse_instance(s) for s in args.instance]
    names = [n for n, _ in instances]
    if len(set(names)) != len(names):
        fail("--instance: each name once")

    state = os.path.abspath(args.state)
    mapfile = os.path.abspath(args.map)
    for d in ("", "errors", "tmp"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    for path in (mapfile, mapfile + ".nginx"):
        if not os.path.exists(path):
            write(path, "")
    access = args.access_log or os.path.join(state, "access.log")
    access = "off" if access == "off" else f"{access} fleet"

    write(os.path.join(state, "nginx.conf"), render("nginx/fleet.conf.in", {
        "STATE": state, "LISTEN": args.listen, "MAP_NGINX": mapfile + ".nginx",
        "WORKERS": args.workers, "ACCESS_LOG": access, "UPSTREAMS": nginx_upstreams(instances)}))
    write(os.path.join(state, "haproxy.cfg"), render("haproxy/fleet.cfg.in", {
        "STATE": state, "LISTEN": args.haproxy_listen or args.listen, "MAP": mapfile,
        "BACKENDS": haproxy_backends(instances)}))
    for status in ERRORS:
        write(os.path.join(state, "errors", f"{status}.http"), error_response(status), "wb")
    print(f"fleetconf: wrote {state}/nginx.conf, {state}/haproxy.cfg, {state}/errors/ "
          f"for {len(instances)} instances")


if __name__ == "__main__":
    main()
