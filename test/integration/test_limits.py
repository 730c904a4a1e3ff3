"""Caps that keep one client or one workspace from locking everybody else out (issue 13, 3.3):
connections per client address (--max-connections-per-ip), the last connections kept for
/healthz, /readyz and /metrics (--reserved-connections), and live event streams per workspace
(--max-streams-per-workspace).

The "other" client connects from 127.0.0.2: Linux routes all of 127.0.0.0/8 to the loopback
interface, so the server sees a second address without any network set-up. Every loop that opens
sockets is bounded by a count."""

import http.client
import resource
import socket
import time

from harness import (BATCHES, DispatchTestCase, ServerTestCase, csv_of, make_workspace,
                     parse_metrics, parse_response, poll, raw_request, request)

OTHER = "127.0.0.2"


def other_request(server, method, path, auth=None):
    """One request from the second client address. Returns (status, headers, body)."""
    headers = {"x-workspace-id": auth[0], "x-api-key": auth[1]} if auth else {}
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10,
                                      source_address=(OTHER, 0))
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def exchange(server, path, headers=(), source=None, timeout=5.0):
    """Sends one GET on a new connection and reads the answer (None if the server closed the
    connection without one)."""
    sock = socket.create_connection((server.host, server.port), timeout=timeout,
                                    source_address=(source, 0) if source else None)
    try:
        sock.sendall(raw_request("GET", path, headers))
        data, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            parsed = parse_response(data, eof=False)
            if parsed is not None:
                return parsed[0]
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                parsed = parse_response(data, eof=True) if data else None
                return parsed[0] if parsed else None
            data += chunk
        raise TimeoutError(f"no answer to GET {path}")
    finally:
        sock.close()


class ConnectionLimitsTest(ServerTestCase):

    def hog(self, server, count):
        """Opens count connections from 127.0.0.1 that never send anything, and keeps every one
        that connects (the server closes those it refuses). Closed when the test ends."""
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(count):
            try:
                socks.append(socket.create_connection((server.host, server.port), timeout=5))
            except OSError:
                pass
        return socks

    def open_connections(self, server):
        status, _, body = other_request(server, "GET", "/metrics")
        self.assertEqual(status, 200, body)
        return parse_metrics(body.decode()).value("batchcalld_http_open_connections")

    def assertServesOthers(self, server, auth):
        """A client at another address is served: an API request and the health checks."""
        status, _, body = other_request(server, "GET", "/v1/api/agents", auth=auth)
        self.assertEqual(status, 200, body)
        for path in ("/healthz", "/readyz"):
            status, _, body = other_request(server, "GET", path)
            self.assertEqual(status, 200, f"{path}: {body!r}")

    def assertRefused(self, resp, hint):
        """A refused connection: closed, or answered 503 too_many_connections naming the cap."""
        if resp is None:
            return
        self.assertEqual(resp.status, 503, resp)
        self.assertEqual(resp.json()["error"], "too_many_connections", resp)
        self.assertIn(hint, resp.json()["message"])
        self.assertEqual(resp.header("Retry-After"), "1")
        self.assertEqual((resp.header("Connection") or "").lower(), "close")

    def test_one_address_cannot_take_every_connection(self):
        """One client opens 200 idle sockets against --max-connections 40: it keeps at most its
        10, and a client at another address, API and health checks, is still served."""
        server = self.start_server("--max-connections", "40", "--max-connections-per-ip", "10")
        auth = make_workspace(server)
        self.hog(server, 200)
        # The metrics connection is counted too; probes from the start may still be closing.
        self.assertTrue(poll(lambda: self.open_connections(server) <= 11, timeout=10),
                        self.open_connections(server))
        self.assertServesOthers(server, auth)
        resp = exchange(server, "/healthz")
        self.assertRefused(resp, "--max-connections-per-ip")

    def test_default_caps_with_two_thousand_sockets(self):
        """The default flags (1,024 connections, 512 per address): 2,000 sockets from one client
        leave the server serving everybody else."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 2400
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.skipTest(f"the file descriptor limit ({hard}) is below {want}")
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        server = self.start_server()
        auth = make_workspace(server)
        self.hog(server, 2000)
        self.assertTrue(poll(lambda: self.open_connections(server) <= 513, timeout=10),
                        self.open_connections(server))
        self.assertServesOthers(server, auth)

    def test_reserved_connections_answer_health_checks(self):
        """With every ordinary connection taken (no per-address cap here, as when many clients
        fill the server), /healthz, /readyz and /metrics still answer on the reserved last
        connections; anything else there gets a 503 with Retry-After. Idle sockets sitting in
        reserved slots give them up to a newcomer."""
        server = self.start_server("--max-connections", "40", "--max-connections-per-ip", "0",
                                   "--reserved-connections", "8")
        auth = make_workspace(server)
        auth_headers = [("x-workspace-id", auth[0]), ("x-api-key", auth[1])]
        self.hog(server, 60)
        for path in ("/healthz", "/readyz", "/metrics"):
            with self.subTest(path=path):
                resp = exchange(server, path)
                self.assertIsNotNone(resp, f"{path}: closed without an answer")
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual((resp.header("Connection") or "").lower(), "close")
        resp = exchange(server, "/v1/api/agents", auth_headers)
        self.assertIsNotNone(resp, "closed without an answer")
        self.assertRefused(resp, "/healthz, /readyz and /metrics")


class StreamLimitsTest(DispatchTestCase):

    def open_stream(self, server, auth, batch):
        """Opens the batch's event stream; returns (socket, status, parsed error or None)."""
        sock = socket.create_connection((server.host, server.port), timeout=5)
        self.addCleanup(sock.close)
        sock.sendall(raw_request("GET", f"{BATCHES}/{batch}/events",
                                 [("x-workspace-id", auth[0]), ("x-api-key", auth[1])]))
        data, deadline = b"", time.monotonic() + 5
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        status = int(data.split(b" ", 2)[1])
        if status == 200:
            return sock, status, None
        while parse_response(data, eof=False) is None and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        resp, _ = parse_response(data, eof=True)
        return sock, status, resp

    def test_one_workspace_cannot_hold_every_stream(self):
        server = self.start_server("--max-streams-per-workspace", "4")
        auth_a, agent_a = self.setup_workspace(server)
        auth_b, agent_b = self.setup_workspace(server)
        later = {"scheduledAt": "2099-01-01T00:00:00Z"}  # stays queued: its stream stays open
        batch_a = self.upload(server, auth_a, agent_a, csv_of([("+14155550100", "A")]), **later)
        batch_b = self.upload(server, auth_b, agent_b, csv_of([("+14155550101", "B")]), **later)

        streams, refused = [], None
        for _ in range(10):
            sock, status, resp = self.open_stream(server, auth_a, batch_a)
            if status != 200:
                refused = resp
                break
            streams.append(sock)
        self.assertEqual(len(streams), 4)
        self.assertIsNotNone(refused, "the workspace's fifth stream was not refused")
        self.assertEqual(refused.status, 429, refused)
        body = refused.json()
        self.assertEqual(body["error"], "too_many_streams", body)
        self.assertIn("--max-streams-per-workspace", body["message"])
        self.assertGreaterEqual(int(refused.header("Retry-After")), 1)
        self.assertEqual(body["retryAfter"], int(refused.header("Retry-After")))

        # Another workspace is not affected: its requests and its own stream work.
        reply = request(server, "GET", f"{BATCHES}/{batch_b}", auth=auth_b)
        self.assertEqual(reply.status, 200, reply.body)
        _, status, resp = self.open_stream(server, auth_b, batch_b)
        self.assertEqual(status, 200, resp)
        self.assertEqual(request(server, "GET", "/healthz").status, 200)
        # The capped workspace's other requests still work too.
        reply = request(server, "GET", f"{BATCHES}/{batch_a}", auth=auth_a)
        self.assertEqual(reply.status, 200, reply.body)


