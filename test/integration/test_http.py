"""HTTP/1.1 protocol behaviour of the server: routing errors, size limits, malformed input,
Expect: 100-continue, chunked bodies, keep-alive, pipelining, timeouts and the connection cap."""

import http.client
import json
import select
import threading
import time

from harness import (RawClient, ServerTestCase, chunked, make_workspace, parse_metrics,
                     parse_response, poll, raw_request, request)

MIB = 1024 * 1024


def agent_body(name="Front desk"):
    return {"name": name, "prompt": "Hello {first_name}", "fromNumber": "+14155550100"}


class RawTestCase(ServerTestCase):
    """Shared helpers for tests that speak raw HTTP to one class-wide server."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server(*cls.server_args)
        cls.auth = make_workspace(cls.server, requests_per_minute=100000)
        cls.auth_headers = [("x-workspace-id", cls.auth[0]), ("x-api-key", cls.auth[1])]
        cls.json_headers = cls.auth_headers + [("Content-Type", "application/json")]

    def raw(self):
        client = RawClient(self.server)
        self.addCleanup(client.close)
        return client

    def exchange(self, data, timeout=5.0):
        client = self.raw()
        client.send(data)
        return client, client.read_response(timeout)

    def assertRawError(self, resp, status, code):
        self.assertEqual(resp.status, status, resp)
        self.assertEqual((resp.header("Content-Type") or "").replace(" ", "").lower(),
                         "application/json;charset=utf-8")
        body = resp.json()
        self.assertEqual(body.get("error"), code, body)
        self.assertIsInstance(body.get("message"), str)

    def assertClosesAfter(self, client, resp):
        """After a fatal error the response says Connection: close and the server closes."""
        self.assertEqual((resp.header("Connection") or "").lower(), "close", resp)
        self.assertTrue(client.wait_closed(3.0), "server kept the connection open")
        self.assertEqual(client.buf, b"", "server sent bytes after the error response")


class HttpProtocolTest(RawTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agents = []
        for i in range(3):
            reply = request(cls.server, "POST", "/v1/api/agents", agent_body(f"agent {i}"),
                            auth=cls.auth)
            if reply.status != 201:
                raise AssertionError(f"could not create an agent: {reply}")
            cls.agents.append(reply.body["id"])

    def test_healthz_and_readyz(self):
        reply = request(self.server, "GET", "/healthz")
        # A single instance (no --instance-name): no name to report (docs/fleet.md).
        self.assertEqual((reply.status, reply.body), (200, {"status": "ok", "instance": None}))
        self.assertIsNone(reply.headers.get("X-Instance"))
        self.assertJsonType(reply.headers)
        reply = request(self.server, "GET", "/readyz")
        self.assertEqual((reply.status, reply.body), (200, {"status": "ready"}))
        self.assertJsonType(reply.headers)

    def test_unknown_path_is_404(self):
        # (GET / is the dashboard: API.md B14.)
        for method, path in [("GET", "/nope"), ("GET", "/ui/x/y"), ("POST", "/healthz/extra"),
                             ("GET", "/v1/api/unknown"), ("GET", "/v1/api/agents/a/b")]:
            with self.subTest(path=path):
                reply = request(self.server, method, path, auth=self.auth)
                self.assertError(reply, 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        cases = [("POST", "/healthz", {"GET"}), ("DELETE", "/readyz", {"GET"}),
                 ("PUT", "/metrics", {"GET"}), ("DELETE", "/v1/api/agents", {"GET", "POST"}),
                 ("PATCH", f"/v1/api/agents/{self.agents[0]}", {"GET", "PUT", "DELETE"}),
                 ("POST", f"/v1/api/agents/{self.agents[0]}", {"GET", "PUT", "DELETE"})]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                reply = request(self.server, method, path, auth=self.auth)
                self.assertError(reply, 405, "method_not_allowed")
                allow = {m.strip().upper() for m in (reply.headers.get("Allow") or "").split(",")}
                self.assertTrue(allowed <= allow, f"Allow: {reply.headers.get('Allow')}")
                self.assertNotIn(method, allow)

    def test_url_over_8k_is_414_and_closes(self):
        client, resp = self.exchange(raw_request("GET", "/" + "a" * 9000))
        self.assertRawError(resp, 414, "uri_too_long")
        self.assertClosesAfter(client, resp)

    def test_url_under_8k_is_routed(self):
        _, resp = self.exchange(raw_request("GET", "/" + "a" * 8000))
        self.assertRawError(resp, 404, "not_found")

    def test_headers_over_16k_are_431_and_close(self):
        headers = [(f"X-Big-{i}", "v" * 1000) for i in range(20)]
        client, resp = self.exchange(raw_request("GET", "/healthz", headers))
        self.assertRawError(resp, 431, "headers_too_large")
        self.assertClosesAfter(client, resp)

    def test_headers_under_16k_are_served(self):
        headers = [(f"X-Big-{i}", "v" * 1000) for i in range(12)]
        _, resp = self.exchange(raw_request("GET", "/healthz", headers))
        self.assertEqual(resp.status, 200, resp)

    def test_header_names_of_every_token_character_are_served(self):
        # RFC 9110 5.1: a field name is a token; every token character is allowed, anything else
        # is refused (MALFORMED below).
        name = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        _, resp = self.exchange(raw_request("GET", "/healthz", [(name, "v")]))
        self.assertEqual(resp.status, 200, resp)
        for bad in '"(),/;<=>?@[\\]{}\x7f\x80\xff':
            with self.subTest(repr(bad)):
                client, resp = self.exchange(
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX" + bad.encode("latin-1") +
                    b"Y: v\r\n\r\n")
                self.assertRawError(resp, 400, "bad_request")
                self.assertClosesAfter(client, resp)

    def test_more_than_100_header_fields_are_431(self):
        headers = [(f"X-F-{i}", "1") for i in range(100)]  # plus Host: 101 fields
        client, resp = self.exchange(raw_request("GET", "/healthz", headers))
        self.assertRawError(resp, 431, "headers_too_large")
        self.assertClosesAfter(client, resp)

    def test_100_header_fields_are_served(self):
        headers = [(f"X-F-{i}", "1") for i in range(99)]  # plus Host: 100 fields
        _, resp = self.exchange(raw_request("GET", "/healthz", headers))
        self.assertEqual(resp.status, 200, resp)

    def test_body_over_1mib_is_413_before_the_body_is_sent(self):
        head = raw_request("POST", "/v1/api/agents",
                           self.json_headers + [("Content-Length", str(MIB + 1))])
        client, resp = self.exchange(head, timeout=3.0)
        self.assertRawError(resp, 413, "payload_too_large")
        self.assertClosesAfter(client, resp)

    def test_body_of_exactly_1mib_is_accepted(self):
        body = json.dumps(agent_body("exactly one MiB")).encode()
        body += b" " * (MIB - len(body))
        _, resp = self.exchange(raw_request("POST", "/v1/api/agents", self.json_headers, body))
        self.assertEqual(resp.status, 201, resp)

    def test_expect_continue_oversized_gets_413_not_100(self):
        head = raw_request("POST", "/v1/api/agents", self.json_headers + [
            ("Content-Length", str(2 * MIB)), ("Expect", "100-continue")])
        client, resp = self.exchange(head, timeout=3.0)
        self.assertRawError(resp, 413, "payload_too_large")
        self.assertClosesAfter(client, resp)

    def test_expect_continue_gets_100_then_final_response(self):
        body = json.dumps(agent_body("continued")).encode()
        head = raw_request("POST", "/v1/api/agents", self.json_headers + [
            ("Content-Length", str(len(body))), ("Expect", "100-continue")])
        client, interim = self.exchange(head, timeout=2.0)
        self.assertEqual(interim.status, 100, interim)
        self.assertEqual(interim.body, b"")
        client.send(body)
        final = client.read_response()
        self.assertEqual(final.status, 201, final)
        self.assertEqual(final.json()["name"], "continued")

    def test_chunked_body_is_accepted(self):
        body = json.dumps(agent_body("chunky")).encode()
        data = raw_request("POST", "/v1/api/agents",
                           self.json_headers + [("Transfer-Encoding", "chunked")])
        data += chunked(body[:5], body[5:17], body[17:])
        _, resp = self.exchange(data)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["name"], "chunky")

    def test_chunk_extensions_and_trailers_are_accepted(self):
        body = json.dumps(agent_body("extended")).encode()
        data = raw_request("POST", "/v1/api/agents",
                           self.json_headers + [("Transfer-Encoding", "chunked")])
        data += (f"{len(body):X};name=value\r\n".encode() + body +
                 b"\r\n0\r\nX-Trailer: yes\r\n\r\n")
        _, resp = self.exchange(data)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["name"], "extended")

    def test_chunked_body_over_1mib_is_413_while_streaming(self):
        client = self.raw()
        client.send(raw_request("POST", "/v1/api/agents",
                                self.json_headers + [("Transfer-Encoding", "chunked")]))
        piece = b"x" * 65536
        frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        sent = 0
        # Stop sending as soon as the server answers: data still in flight when it closes
        # would make the kernel reset the connection and could discard the response.
        while sent < MIB + 4 * len(piece):
            readable, _, _ = select.select([client.sock], [], [], 0.02)
            if readable:
                break
            try:
                client.send(frame)
            except OSError:
                break
            sent += len(piece)
        resp = client.read_response(5.0)
        self.assertRawError(resp, 413, "payload_too_large")
        self.assertGreaterEqual(sent, MIB, "413 came before the body passed the limit")
        self.assertClosesAfter(client, resp)

    MALFORMED = {
        "garbage request line": b"GARBAGE\r\n\r\n",
        "lowercase method": b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "request line without version": b"GET /healthz\r\n\r\n",
        "extra token after version": b"GET /healthz HTTP/1.1 x\r\nHost: x\r\n\r\n",
        "space inside target": b"GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n",
        "NUL inside target": b"GET /healthz\x00x HTTP/1.1\r\nHost: x\r\n\r\n",
        "space inside header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n",
        "space before colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad : x\r\n\r\n",
        "header line without colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
        "control char in header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nB\x01d: x\r\n\r\n",
        "bare CR in header value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
        # RFC 9112 3.2: an HTTP/1.1 request has exactly one Host.
        "HTTP/1.1 without Host": b"GET /healthz HTTP/1.1\r\n\r\n",
        "two Host headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        # RFC 9112 5.2: obs-fold (a line starting with a space or tab continues a header).
        "obs-fold header line": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
        "obs-fold with a tab": b"GET /healthz HTTP/1.1\r\nX-A: a\r\n\tb\r\nHost: x\r\n\r\n",
        "obs-fold after an empty value":
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A:\r\n b\r\n\r\n",
    }
    MALFORMED_BODY_FRAMING = {
        "non-numeric Content-Length": ("Content-Length: abc\r\n", b""),
        "negative Content-Length": ("Content-Length: -1\r\n", b""),
        "list Content-Length": ("Content-Length: 1, 2\r\n", b"ab"),
        "overflowing Content-Length": ("Content-Length: 99999999999999999999999\r\n", b""),
        "two different Content-Lengths": ("Content-Length: 3\r\nContent-Length: 4\r\n",
                                          b"abcd"),
        "Content-Length and chunked": ("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                                       b"3\r\nabc\r\n0\r\n\r\n"),
        "bad chunk size": ("Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"),
        "chunk data without CRLF": ("Transfer-Encoding: chunked\r\n", b"3\r\nabcX0\r\n\r\n"),
        "bare LF in chunk framing": ("Transfer-Encoding: chunked\r\n", b"3\nabc\r\n0\r\n\r\n"),
    }

    def test_malformed_requests_are_400_and_close(self):
        cases = dict(self.MALFORMED)
        auth = "".join(f"{k}: {v}\r\n" for k, v in self.json_headers)
        for name, (framing, body) in self.MALFORMED_BODY_FRAMING.items():
            cases[name] = (f"POST /v1/api/agents HTTP/1.1\r\nHost: x\r\n{auth}{framing}\r\n"
                           .encode() + body)
        for name, data in cases.items():
            with self.subTest(name):
                client, resp = self.exchange(data)
                self.assertRawError(resp, 400, "bad_request")
                self.assertClosesAfter(client, resp)

    def test_nothing_after_a_bad_request_is_served(self):
        data = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n" +
                raw_request("GET", "/healthz"))
        client, resp = self.exchange(data)
        self.assertRawError(resp, 400, "bad_request")
        self.assertClosesAfter(client, resp)

    def test_ten_pipelined_requests_answer_in_order(self):
        a, b, c = self.agents
        requests = [
            raw_request("GET", "/healthz"),
            raw_request("GET", f"/v1/api/agents/{a}", self.auth_headers),
            raw_request("GET", "/readyz"),
            raw_request("POST", "/v1/api/agents", self.json_headers,
                        json.dumps(agent_body("pipelined")).encode()),
            raw_request("GET", f"/v1/api/agents/{b}", self.auth_headers),
            raw_request("GET", "/no/such/route"),
            raw_request("GET", "/v1/api/agents/agent_doesnotexist", self.auth_headers),
            raw_request("GET", "/metrics"),
            raw_request("GET", f"/v1/api/agents/{c}", self.auth_headers),
            raw_request("GET", "/healthz", [("Connection", "close")]),
        ]
        client = self.raw()
        client.send(b"".join(requests))
        got = client.read_responses(10, timeout=10.0)
        self.assertEqual([r.status for r in got], [200, 200, 200, 201, 200, 404, 404, 200, 200,
                                                   200])
        self.assertEqual(got[0].json(), {"status": "ok", "instance": None})
        self.assertEqual(got[1].json()["id"], a)
        self.assertEqual(got[2].json(), {"status": "ready"})
        self.assertEqual(got[3].json()["name"], "pipelined")
        self.assertEqual(got[4].json()["id"], b)
        self.assertEqual(got[6].json()["id"], "agent_doesnotexist")
        self.assertIn(b"batchcalld_http_requests_total", got[7].body)
        self.assertEqual(got[8].json()["id"], c)
        self.assertEqual(got[9].json(), {"status": "ok", "instance": None})
        self.assertTrue(client.wait_closed(3.0))
        self.assertEqual(client.buf, b"")

    def test_requests_split_into_tiny_writes(self):
        a = self.agents[0]
        data = (raw_request("GET", f"/v1/api/agents/{a}", self.auth_headers) +
                raw_request("POST", "/v1/api/agents", self.json_headers,
                            json.dumps(agent_body("split")).encode()) +
                raw_request("GET", "/healthz"))
        client = self.raw()
        for i in range(0, len(data), 5):
            client.send(data[i:i + 5])
            time.sleep(0.001)
        got = client.read_responses(3)
        self.assertEqual([r.status for r in got], [200, 201, 200])
        self.assertEqual(got[0].json()["id"], a)
        self.assertEqual(got[1].json()["name"], "split")

    def test_keep_alive_reuses_one_connection(self):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=5)
        self.addCleanup(conn.close)
        sockets = set()
        for i in range(6):
            path = "/healthz" if i % 2 else f"/v1/api/agents/{self.agents[0]}"
            conn.request("GET", path, headers=dict(self.auth_headers))
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            self.assertFalse(resp.will_close, "server asked to close a keep-alive connection")
            sockets.add(conn.sock.getsockname())
        self.assertEqual(len(sockets), 1)

    def test_connection_close_is_honoured(self):
        client, resp = self.exchange(raw_request("GET", "/healthz", [("Connection", "close")]))
        self.assertEqual(resp.status, 200)
        self.assertClosesAfter(client, resp)

    def test_http10_needs_no_host(self):
        client, resp = self.exchange(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(resp.status, 200)

    def test_empty_header_values_are_not_folds(self):
        client, resp = self.exchange(b"GET /healthz HTTP/1.1\r\nX-A:\r\nX-B: \r\n"
                                     b"X-C: a  b\r\nHost: x\r\n\r\n")
        self.assertEqual(resp.status, 200)

    def test_http10_closes_unless_keep_alive(self):
        client, resp = self.exchange(raw_request("GET", "/healthz", version="HTTP/1.0"))
        self.assertEqual(resp.status, 200)
        self.assertTrue(client.wait_closed(3.0), "HTTP/1.0 connection left open")
        client, resp = self.exchange(raw_request("GET", "/healthz", [("Connection", "keep-alive")],
                                                 version="HTTP/1.0"))
        self.assertEqual(resp.status, 200)
        self.assertEqual((resp.header("Connection") or "").lower(), "keep-alive")
        client.send(raw_request("GET", "/readyz", [("Connection", "keep-alive")],
                                version="HTTP/1.0"))
        self.assertEqual(client.read_response().status, 200)


class KeepAliveMetricsTest(ServerTestCase):
    """Counts server-side connections through /metrics while keep-alive clients stay open."""

    def test_open_connections_gauge_follows_keep_alive_clients(self):
        server = self.start_server()
        probe = http.client.HTTPConnection(server.host, server.port, timeout=5)
        self.addCleanup(probe.close)

        def gauge():
            probe.request("GET", "/metrics")
            resp = probe.getresponse()
            text = resp.read().decode()
            self.assertEqual(resp.status, 200)
            return parse_metrics(text).value("batchcalld_http_open_connections")

        self.assertTrue(poll(lambda: gauge() == 1), "only the probe connection should be open")
        others = [http.client.HTTPConnection(server.host, server.port, timeout=5)
                  for _ in range(3)]
        for conn in others:
            self.addCleanup(conn.close)
            for _ in range(2):
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
        self.assertEqual(gauge(), 4)
        for conn in others:
            conn.close()
        self.assertTrue(poll(lambda: gauge() == 1), "closed connections are still counted")


HEADER_S, IDLE_S, BODY_S = 1.0, 1.5, 2.0


class TimeoutTest(RawTestCase):
    """Read timeouts, with values different enough to tell which one closed a connection."""

    server_args = ("--header-timeout-ms", str(int(HEADER_S * 1000)),
                   "--idle-timeout-ms", str(int(IDLE_S * 1000)),
                   "--body-timeout-ms", str(int(BODY_S * 1000)))

    def wait_for_close(self, client, started, limit_s):
        """Seconds from started until the server closed; the only response allowed before the
        close is a 408."""
        self.assertTrue(client.wait_closed(limit_s + 3.0), "server never closed the connection")
        elapsed = time.monotonic() - started
        if client.buf:
            resp, _ = parse_response(client.buf, eof=True)
            self.assertRawError(resp, 408, resp.json().get("error"))
        return elapsed

    def assertTimedOutAt(self, elapsed, limit_s):
        self.assertGreaterEqual(elapsed, 0.8 * limit_s, "closed before the timeout")
        self.assertLessEqual(elapsed, limit_s + 1.5, "closed long after the timeout")

    def test_slow_header_client_is_cut_off_while_others_are_served(self):
        head = raw_request("GET", "/healthz", [("X-Slow", "a" * 40)])
        client = self.raw()
        stop = threading.Event()
        latencies = []

        def dribble():
            for i in range(len(head)):
                try:
                    client.send(head[i:i + 1])
                except OSError:
                    return
                if stop.wait(0.25):
                    return

        def normal_client():
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    status = request(self.server, "GET", "/healthz", timeout=5).status
                except OSError as exc:
                    status = repr(exc)
                latencies.append((time.monotonic() - t0, status))
                stop.wait(0.1)

        threads = [threading.Thread(target=dribble), threading.Thread(target=normal_client)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            elapsed = self.wait_for_close(client, started, HEADER_S)
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)
        self.assertTimedOutAt(elapsed, HEADER_S)
        self.assertGreaterEqual(len(latencies), 3, latencies)
        self.assertEqual({status for _, status in latencies}, {200}, latencies)
        self.assertLess(max(seconds for seconds, _ in latencies), 0.5, latencies)

    def test_idle_keep_alive_connection_is_closed(self):
        client, resp = self.exchange(raw_request("GET", "/healthz"))
        self.assertEqual(resp.status, 200)
        started = time.monotonic()
        self.assertTimedOutAt(self.wait_for_close(client, started, IDLE_S), IDLE_S)

    def test_silent_new_connection_is_closed(self):
        client = self.raw()
        started = time.monotonic()
        elapsed = self.wait_for_close(client, started, IDLE_S)
        self.assertLessEqual(elapsed, IDLE_S + 1.5)

    def test_stalled_body_is_closed_after_body_timeout(self):
        body = json.dumps(agent_body("stalled")).encode()
        client = self.raw()
        client.send(raw_request("POST", "/v1/api/agents", self.json_headers +
                                [("Content-Length", str(len(body)))]) + body[:10])
        started = time.monotonic()
        self.assertTimedOutAt(self.wait_for_close(client, started, BODY_S), BODY_S)

    def test_slow_but_steady_body_is_not_cut(self):
        body = json.dumps(agent_body("trickled")).encode()
        client = self.raw()
        client.send(raw_request("POST", "/v1/api/agents", self.json_headers +
                                [("Content-Length", str(len(body)))]))
        step = len(body) // 10 + 1
        for i in range(0, len(body), step):
            time.sleep(0.35)
            client.send(body[i:i + step])
        resp = client.read_response()
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["name"], "trickled")


class ConnectionCapTest(RawTestCase):
    server_args = ("--max-connections", "3")

    def assertRejected(self, client):
        """Over the cap: a 503 too_many_connections with Connection: close, or a prompt close."""
        try:
            client.send(raw_request("GET", "/healthz"))
        except OSError:
            return
        self.assertTrue(client.wait_closed(3.0), "connection over the cap was kept open")
        if client.buf:
            resp, _ = parse_response(client.buf, eof=True)
            self.assertRawError(resp, 503, "too_many_connections")
            self.assertEqual((resp.header("Connection") or "").lower(), "close")

    def served(self, client):
        client.send(raw_request("GET", "/healthz"))
        return client.read_response().status == 200

    def open_connections(self, client):
        """The server's open connections gauge, read on client (which it counts)."""
        client.send(raw_request("GET", "/metrics"))
        resp = client.read_response()
        self.assertEqual(resp.status, 200, resp)
        return parse_metrics(resp.body.decode()).value("batchcalld_http_open_connections")

    def test_connection_over_the_cap_is_refused_until_one_closes(self):
        # The readiness probes of the start closed their side; the server may not have closed
        # its side yet. Until it has, they still count against the cap.
        first = self.raw()
        self.assertTrue(poll(lambda: self.open_connections(first) == 1, timeout=10),
                        "connections from before the test are still open")
        clients = [first] + [self.raw() for _ in range(2)]
        for client in clients:
            self.assertTrue(self.served(client))
        self.assertRejected(self.raw())
        for client in clients:
            self.assertTrue(self.served(client), "a connection under the cap stopped working")
        clients[0].close()

        def new_connection_works():
            client = RawClient(self.server)
            try:
                if self.served(client):
                    return client
            except OSError:
                pass
            client.close()
            return None

        fresh = poll(new_connection_works, timeout=3.0, interval=0.1)
        self.assertIsNotNone(fresh, "no new connection accepted after one closed")
        self.addCleanup(fresh.close)
        self.assertRejected(self.raw())
