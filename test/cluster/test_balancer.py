"""The balancers' own answers, against fake instances that fail on purpose: nginx and HAProxy from
deploy/fleetconf.py (as deployed, but with 1 s server timeouts so a silent instance is quick to
test) in front of loopback sockets that refuse, never accept, accept and stay silent, or answer
garbage. Whatever the failure, a client gets JSON with `error`, `message` and, when retrying
helps, `Retry-After`; an instance's own answers (421, 503 workspace_moving) pass through untouched.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

import fleet as fl
from fleet import h


class FakeInstance:
    """A listening socket with one behaviour: "silent" accepts and never answers, "garbage"
    answers bytes that are not HTTP, "canned" answers a fixed response; "blackhole" never
    accepts and its backlog is full, so a new connection is never established."""

    def __init__(self, mode, response=b""):
        self.mode, self.response = mode, response
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.stopping = False
        if mode == "blackhole":
            self.sock.listen(0)
            for _ in range(3):  # fill the accept queue; later SYNs are dropped
                c = socket.socket()
                c.setblocking(False)
                try:
                    c.connect(("127.0.0.1", self.port))
                except BlockingIOError:
                    pass
                self.held.append(c)
        else:
            self.sock.listen(16)
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            if self.mode == "garbage":
                conn.sendall(b"this is not HTTP at all\r\n\r\n")
                conn.close()
            elif self.mode == "canned":
                conn.sendall(self.response)
        except OSError:
            pass

    def close(self):
        self.stopping = True
        for c in self.held:
            c.close()
        self.sock.close()


def canned(status, reason, body, extra=""):
    data = body.encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nX-Instance: inst-x\r\n{extra}\r\n").encode() + data


class BalancerErrorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        refused = socket.socket()
        refused.bind(("127.0.0.1", 0))
        refused_port = refused.getsockname()[1]
        refused.close()  # nothing listens there: connections are refused
        cls.fakes = {
            "silent": FakeInstance("silent"),
            "garbage": FakeInstance("garbage"),
            "blackhole": FakeInstance("blackhole"),
            "moving": FakeInstance("canned", canned(
                503, "Service Unavailable",
                '{"error":"workspace_moving","message":"moving","retryAfter":5}',
                "Retry-After: 5\r\n")),
            "misdirected": FakeInstance("canned", canned(
                421, "Misdirected Request",
                '{"error":"misdirected_request","message":"not here"}')),
        }
        ports = {name: f.port for name, f in cls.fakes.items()}
        ports["refused"] = refused_port
        cls.dir = tempfile.mkdtemp(prefix="batchcalld-balancer-")
        state, mapfile = os.path.join(cls.dir, "state"), os.path.join(cls.dir, "placement.map")
        cls.ws = {name: f"ws_{name.upper()}" for name in ports}
        with open(mapfile, "w") as f:
            f.write("".join(f"{ws} {name}\n" for name, ws in cls.ws.items()))
        with open(mapfile + ".nginx", "w") as f:
            f.write("".join(f"{ws} {name};\n" for name, ws in cls.ws.items()))
        nginx_port, haproxy_port = h.free_port(), h.free_port()
        cmd = [sys.executable, os.path.join(fl.DEPLOY, "fleetconf.py"), "--state", state,
               "--listen", f"127.0.0.1:{nginx_port}", "--haproxy-listen",
               f"127.0.0.1:{haproxy_port}", "--map", mapfile, "--workers", "1"]
        for name, port in ports.items():
            cmd += ["--instance", f"{name}=127.0.0.1:{port}"]
        subprocess.run(cmd, check=True, capture_output=True)
        # The deployed timeouts are 60 s; 1 s keeps the silent instance's case short.
        for conf, pattern in (("nginx.conf", r"proxy_read_timeout 60s"),
                              ("haproxy.cfg", r"timeout server 60s")):
            path = os.path.join(state, conf)
            with open(path) as f:
                text = f.read()
            text, n = re.subn(pattern, pattern.replace("60s", "1s"), text)
            assert n == 1, (conf, pattern)
            with open(path, "w") as f:
                f.write(text)

        class Shim:
            pass
        shim = Shim()
        shim.state, shim.nginx_conf = state, os.path.join(state, "nginx.conf")
        shim.haproxy_cfg = os.path.join(state, "haproxy.cfg")
        cls.nginx = fl.Nginx(shim, nginx_port).start()
        cls.haproxy = fl.HAProxy(shim, haproxy_port).start()

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        cls.haproxy.stop()
        for f in cls.fakes.values():
            f.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def get(self, balancer, name):
        return h.request(balancer, "GET", "/v1/api/agents", headers={"x-workspace-id": self.ws[name],
                                                                    "x-api-key": "k"}, timeout=15)

    def assertJson(self, reply, status, code, retry_after):
        where = f"{reply.status} {reply.headers.get('Content-Type')} {reply.body!r}"
        self.assertEqual(reply.status, status, where)
        self.assertTrue((reply.headers.get("Content-Type") or "").startswith("application/json"),
                        where)
        self.assertEqual(reply.body.get("error"), code, where)
        self.assertTrue(reply.body.get("message"), where)
        self.assertEqual(reply.headers.get("Retry-After"), retry_after, where)

    def test_instance_down(self):
        """Refused (stopped, crashed) and never accepted (a vanished container): 503."""
        for balancer in (self.nginx, self.haproxy):
            for name in ("refused", "blackhole"):
                with self.subTest(balancer=balancer.name, instance=name):
                    self.assertJson(self.get(balancer, name), 503, "unavailable", "2")

    def test_invalid_answer(self):
        """An answer that is not HTTP: HAProxy says 503 too (the instance is broken, retry
        later). nginx cannot: it relays such an answer as an HTTP/0.9 response whatever the
        configuration (ngx_http_proxy_module), which this test pins down so a change shows;
        batchcalld itself never answers that way (docs/deploy.md)."""
        self.assertJson(self.get(self.haproxy, "garbage"), 503, "unavailable", "2")
        with self.assertRaises(h.http.client.BadStatusLine):
            self.get(self.nginx, "garbage")

    def test_silent_instance(self):
        """Connected, then no answer within the timeout: 504, which says a write may have been
        applied."""
        for balancer in (self.nginx, self.haproxy):
            with self.subTest(balancer=balancer.name):
                reply = self.get(balancer, "silent")
                self.assertJson(reply, 504, "gateway_timeout", "5")
                self.assertIn("read it back", reply.body["message"])

    def test_instance_errors_pass_through(self):
        """The instance's own 503 and 421 reach the client as the instance sent them."""
        for balancer in (self.nginx, self.haproxy):
            with self.subTest(balancer=balancer.name):
                reply = self.get(balancer, "moving")
                self.assertJson(reply, 503, "workspace_moving", "5")
                self.assertEqual(reply.headers.get("X-Instance"), "inst-x")
                reply = self.get(balancer, "misdirected")
                self.assertJson(reply, 421, "misdirected_request", None)

    def test_too_large(self):
        for balancer in (self.nginx, self.haproxy):
            with self.subTest(balancer=balancer.name):
                reply = h.request(balancer, "POST", h.BATCHES, b"",
                                  {"x-workspace-id": self.ws["moving"], "x-api-key": "k",
                                   "Content-Length": "40000000"})
                self.assertJson(reply, 413, "payload_too_large", None)


if __name__ == "__main__":
    unittest.main()
