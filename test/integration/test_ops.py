"""Operating the server: command line, configuration from the environment, healthcheck,
/metrics, graceful shutdown on SIGTERM/SIGINT, and the --demo bootstrap."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import (RawClient, ServerTestCase, admin, binary, clean_env, free_port,
                     make_workspace, poll, raw_request, request, scrape, wait_ready)


def run_binary(*args, timeout=15):
    return subprocess.run([binary(), *args], capture_output=True, text=True, env=clean_env(),
                          timeout=timeout)


def can_connect(server):
    try:
        socket.create_connection((server.host, server.port), timeout=0.5).close()
        return True
    except OSError:
        return False


def server_has_read(server):
    """Returns once the server has read every byte already sent to it on other connections, so
    that those requests are in flight when the test goes on. A request on a new connection is
    answered only after an event loop pass that saw it readable, and the bytes sent before
    (already in the server's socket buffers) were readable in that pass or an earlier one."""
    reply = request(server, "GET", "/healthz", headers={"Connection": "close"})
    if reply.status != 200:
        raise AssertionError(f"/healthz answered {reply.status}")


def served_connection(target):
    """Sends GET /healthz on target (a RawClient, or an address to connect to) and returns the
    client if the answer was 200, else None (refused, closed or another status)."""
    client = target if isinstance(target, RawClient) else None
    try:
        client = client or RawClient(target)
        client.send(raw_request("GET", "/healthz"))
        if client.read_response(3.0).status == 200:
            return client
    except OSError:
        pass
    if client is not None:
        client.close()
    return None


class CommandLineTest(ServerTestCase):
    def test_help_exits_0_with_usage(self):
        done = run_binary("--help")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("--listen", done.stdout)

    def test_every_serve_flag_is_in_the_readme(self):
        # The README's flags table is where operators look: a flag only --help knows is lost.
        done = run_binary("--help")
        flags = set(re.findall(r"^  (--[a-z0-9-]+)", done.stdout, re.M))
        self.assertIn("--events-log-kb", flags)
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
            table = "\n".join(ln for ln in f.read().splitlines() if ln.startswith("| `--"))
        documented = set(re.findall(r"`(--[a-z0-9-]+)`", table))
        self.assertEqual(flags - documented, set(), "flags missing from README's flags table")

    def test_unknown_flag_exits_2_with_a_message(self):
        for args in (["--no-such-flag"], ["serve", "--no-such-flag"],
                     ["serve", "--listen", "127.0.0.1:1", "--no-such-flag", "x"]):
            with self.subTest(args=args):
                done = run_binary(*args)
                self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
                self.assertIn("no-such-flag", done.stderr)

    def test_out_of_range_values_exit_2_naming_the_flag(self):
        for args in (["--events-log-kb", "0"], ["--events-log-kb", "2000000"]):
            with self.subTest(args=args):
                done = run_binary("serve", "--listen", "127.0.0.1:1", *args)
                self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
                self.assertIn("--events-log-kb", done.stderr)

    def test_healthcheck_reports_whether_the_server_answers(self):
        server = self.start_server()
        done = run_binary("healthcheck", "--listen", server.listen)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        done = run_binary("healthcheck", "--listen", f"127.0.0.1:{free_port()}")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)

    def test_serve_is_the_default_subcommand(self):
        server = self.start_server(subcommand=None)
        self.assertEqual(request(server, "GET", "/healthz").status, 200)

    def test_missing_data_dir_is_created(self):
        parent = tempfile.mkdtemp(prefix="batchcalld-it-")
        self.addCleanup(shutil.rmtree, parent, True)
        data_dir = os.path.join(parent, "data")
        server = self.start_server(data_dir=data_dir)
        self.assertTrue(os.path.isdir(data_dir))
        ws, key = make_workspace(server)
        self.assertEqual(request(server, "GET", "/v1/api/agents", auth=(ws, key)).status, 200)

    def test_flags_can_come_from_the_environment(self):
        workdir = tempfile.mkdtemp(prefix="batchcalld-it-")
        self.addCleanup(shutil.rmtree, workdir, True)
        data_dir = os.path.join(workdir, "data")
        os.makedirs(data_dir)
        port = free_port()
        env = clean_env({"BATCHCALLD_LISTEN": f"127.0.0.1:{port}",
                         "BATCHCALLD_DATA_DIR": data_dir, "BATCHCALLD_MAX_CONNECTIONS": "1",
                         "BATCHCALLD_LOG_LEVEL": "debug"})
        with open(os.path.join(workdir, "log"), "wb") as log:
            proc = subprocess.Popen([binary()], env=env, stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL)
        try:
            self.assertTrue(wait_ready(port, proc), "server configured by env never got ready")
            self.assertTrue(os.listdir(data_dir), "BATCHCALLD_DATA_DIR was not used")
            first = poll(lambda: served_connection(("127.0.0.1", port)), timeout=3.0)
            self.assertIsNotNone(first)
            self.addCleanup(first.close)
            second = RawClient(("127.0.0.1", port))
            self.addCleanup(second.close)
            self.assertIsNone(served_connection(second), "BATCHCALLD_MAX_CONNECTIONS ignored")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=20)
        self.assertEqual(rc, 0)


class MetricsTest(ServerTestCase):
    def test_metrics_are_valid_prometheus_text_and_count_requests(self):
        server = self.start_server()
        before = scrape(server)
        expected_types = {"batchcalld_http_requests_total": "counter",
                          "batchcalld_http_request_duration_seconds": "histogram",
                          "batchcalld_http_open_connections": "gauge",
                          "batchcalld_store_map_size_bytes": "gauge",
                          "batchcalld_store_used_bytes": "gauge",
                          "batchcalld_event_loop_lag_seconds": "histogram"}
        for name, kind in expected_types.items():
            with self.subTest(name):
                self.assertIn(name, before.families)
                self.assertEqual(before.families[name].type, kind)
                self.assertTrue(before.families[name].help, f"{name} has no HELP")
        map_size = before.value("batchcalld_store_map_size_bytes")
        used = before.value("batchcalld_store_used_bytes")
        self.assertGreater(map_size, 0)
        self.assertTrue(0 < used <= map_size, (used, map_size))

        for _ in range(7):
            self.assertEqual(request(server, "GET", "/healthz").status, 200)
        for i in range(3):
            self.assertEqual(request(server, "GET", f"/not-found-{i}").status, 404)
        for _ in range(2):
            self.assertEqual(request(server, "GET", "/readyz").status, 200)
        after = scrape(server)

        def delta(name, **labels):
            return after.value(name, **labels) - before.value(name, **labels)

        requests = "batchcalld_http_requests_total"
        for sample in after.samples(requests):
            self.assertTrue({"route", "status"} <= set(sample.labels), sample)
            self.assertRegex(sample.labels["status"], r"^[1-5][0-9][0-9]$")
        health_routes = {s.labels["route"] for s in after.samples(requests)
                         if "healthz" in s.labels["route"]}
        self.assertEqual(len(health_routes), 1, health_routes)
        self.assertEqual(delta(requests, route=health_routes.pop(), status="200"), 7)
        self.assertEqual(delta(requests, status="404"), 3)
        routes_404 = {s.labels["route"] for s in after.samples(requests, status="404")}
        self.assertEqual(len(routes_404), 1, f"raw paths used as route labels: {routes_404}")
        # 12 requests plus the first scrape, whichever side of its own count a scrape falls.
        self.assertEqual(delta(requests), 13)
        duration = "batchcalld_http_request_duration_seconds"
        self.assertEqual(delta(duration + "_count"), 13)
        self.assertEqual(delta(duration + "_bucket", le="+Inf"), 13)
        self.assertGreater(delta(duration + "_sum"), 0)
        # The lag probe runs ten times a second; an idle server is never late by a second.
        # Polled, not read after a fixed wait: on a busy machine the first probes may come late.
        def probed():
            metrics = scrape(server)
            return metrics if metrics.value("batchcalld_event_loop_lag_seconds_count") >= 3 \
                else None

        lag = poll(probed, timeout=10) or scrape(server)
        self.assertGreaterEqual(lag.value("batchcalld_event_loop_lag_seconds_count"), 3)
        self.assertEqual(lag.value("batchcalld_event_loop_lag_seconds_bucket", le="1"),
                         lag.value("batchcalld_event_loop_lag_seconds_count"))


class ShutdownTest(ServerTestCase):
    def start_slow_upload(self, server, auth, name):
        """A POST whose body is only half sent, i.e. a request in flight."""
        body = json.dumps({"name": name, "prompt": "p", "fromNumber": "+14155550100"}).encode()
        client = RawClient(server, timeout=10)
        self.addCleanup(client.close)
        client.send(raw_request("POST", "/v1/api/agents", [
            ("x-workspace-id", auth[0]), ("x-api-key", auth[1]),
            ("Content-Type", "application/json"), ("Content-Length", str(len(body)))]) +
            body[:10])
        server_has_read(server)
        return client, body[10:]

    def test_drain_finishes_in_flight_requests(self):
        server = self.start_server("--shutdown-timeout-ms", "5000")
        slow, rest = self.start_slow_upload(server, make_workspace(server), "finished in drain")
        # A request head that has started to arrive is in flight too; finishing it during the
        # drain is the way a client can see /readyz answer 503 once new connections are refused.
        probe = RawClient(server)
        self.addCleanup(probe.close)
        probe.send(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        server_has_read(server)

        started = time.monotonic()
        server.kill(signal.SIGTERM)
        self.assertTrue(poll(lambda: not can_connect(server), timeout=2.0),
                        "server still accepts connections after SIGTERM")
        probe.send(b"\r\n")
        readyz = probe.read_response()
        self.assertEqual(readyz.status, 503, readyz)
        time.sleep(0.5)
        slow.send(rest)
        resp = slow.read_response()
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["name"], "finished in drain")
        probe.close()
        slow.close()
        self.assertEqual(server.wait(), 0)
        self.assertLess(time.monotonic() - started, 5.0, "drain waited for the full timeout")

    def test_unfinished_request_is_cut_at_the_shutdown_timeout(self):
        server = self.start_server("--shutdown-timeout-ms", "1000")
        slow, _ = self.start_slow_upload(server, make_workspace(server), "never finished")
        started = time.monotonic()
        server.kill(signal.SIGTERM)
        self.assertEqual(server.wait(timeout=10), 0)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.8, "in-flight request not given its time")
        self.assertLessEqual(elapsed, 3.0, "shutdown timeout not enforced")
        self.assertTrue(slow.wait_closed(1.0))

    def test_sigint_stops_cleanly(self):
        server = self.start_server()
        server.kill(signal.SIGINT)
        self.assertEqual(server.wait(timeout=10), 0)


class DemoTest(ServerTestCase):
    PATTERNS = {"workspace": r"workspace:\s*(ws_[A-Za-z0-9_-]+)",
                "key": r"api key:\s*(bck_[A-Za-z0-9_-]+)",
                "agent": r"agent:\s*(agent_[A-Za-z0-9_-]+)"}

    def printed_ids(self, server):
        """Waits for the demo lines on stdout (the server must flush them, not buffer them)."""

        def complete_text():
            text = server.stdout_text()
            return text if all(re.search(p, text) for p in self.PATTERNS.values()) else None

        text = poll(complete_text, timeout=3.0)
        self.assertTrue(text, f"demo ids not printed on stdout: {server.stdout_text()!r}")
        return text, {k: re.search(p, text).group(1) for k, p in self.PATTERNS.items()}

    def test_demo_creates_a_usable_workspace_once(self):
        server = self.start_server("--demo")
        text, ids = self.printed_ids(server)
        self.assertIn("curl", text)
        # The built-in simulator listens on an ephemeral port: the demo says where its ledger is.
        sim = re.search(r"simulator: http://127\.0\.0\.1:(\d+)", text)
        self.assertTrue(sim, text)
        stats = request(("127.0.0.1", int(sim.group(1))), "GET", "/sim/stats")
        self.assertEqual(stats.status, 200, stats.body)
        self.assertIn("accepted", stats.body)
        auth = (ids["workspace"], ids["key"])
        reply = request(server, "GET", f"/v1/api/agents/{ids['agent']}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.body["id"], ids["agent"])

        server.restart()
        again = server.stdout_text()
        self.assertNotIn(ids["key"], again, "a restart printed (or made) the key again")
        demos = [w for w in admin(server.data_dir, "workspace", "list")["workspaces"]
                 if w["name"] == "demo"]
        self.assertEqual(len(demos), 1, demos)
        listed = request(server, "GET", "/v1/api/agents", auth=auth)
        self.assertEqual(listed.status, 200)
        self.assertEqual([a["id"] for a in listed.body["agents"]], [ids["agent"]])
