"""The store at its limits: the LMDB map grows when it fills, and once it may not grow further a
write answers 507 and changes nothing, while reads and earlier data stay intact."""
import os
import subprocess
import tempfile
import unittest

from harness import ServerTestCase, make_workspace, request, scrape


class StoreFullTest(ServerTestCase):
    def test_map_grows_then_507_and_nothing_lost(self):
        server = self.start_server("--map-size-mb", "1", "--map-size-max-mb", "2")
        ws, key = make_workspace(server)
        auth = (ws, key)
        prompt = "x" * 30000
        created = []
        reply = None
        for _ in range(200):
            reply = request(server, "POST", "/v1/api/agents",
                            {"name": "a", "prompt": prompt, "fromNumber": "+14155550100"},
                            auth=auth)
            if reply.status != 201:
                break
            created.append(reply.body["id"])
        self.assertError(reply, 507, "insufficient_storage")
        self.assertIn("--map-size-max-mb", reply.body["message"])
        self.assertGreater(len(created), 10)
        metrics = scrape(server)
        self.assertGreaterEqual(metrics.value("batchcalld_store_map_grows_total"), 1)
        self.assertEqual(metrics.value("batchcalld_store_map_size_bytes"), 2 * 1024 * 1024)
        # Everything written before the 507 is still there, and reads work.
        listed = request(server, "GET", f"/v1/api/agents?limit=100", auth=auth)
        self.assertEqual(listed.status, 200)
        self.assertEqual(listed.body["pagination"]["total"], len(created))
        for agent in created[:5] + created[-5:]:
            self.assertEqual(request(server, "GET", f"/v1/api/agents/{agent}", auth=auth).status,
                             200)
        # Small writes still fail cleanly rather than corrupting anything.
        again = request(server, "POST", "/v1/api/agents",
                        {"name": "a", "prompt": prompt, "fromNumber": "+14155550100"}, auth=auth)
        self.assertError(again, 507, "insufficient_storage")


class StartupErrorTest(unittest.TestCase):
    def run_server(self, *args):
        from harness import binary, free_port
        return subprocess.run([binary(), "serve", "--listen", f"127.0.0.1:{free_port()}", *args],
                              capture_output=True, text=True, timeout=20)

    def test_data_dir_that_is_a_file_is_a_clear_error(self):
        with tempfile.NamedTemporaryFile() as f:
            result = self.run_server("--data-dir", f.name)
        self.assertEqual(result.returncode, 1)
        self.assertIn("not a directory", result.stderr)

    def test_second_server_on_the_same_data_dir_is_refused(self):
        from harness import Server
        with tempfile.TemporaryDirectory() as d:
            with Server(data_dir=os.path.join(d, "data")) as first:
                result = self.run_server("--data-dir", first.data_dir)
                self.assertEqual(result.returncode, 1)
                self.assertIn("another batchcalld server is using this data directory",
                              result.stderr)


if __name__ == "__main__":
    unittest.main()
