"""The store at its limits: the LMDB map grows when it fills, and once it may not grow further a
write answers 507 and changes nothing, while reads and earlier data stay intact."""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import (ServerTestCase, make_workspace, post_multipart, request, scrape,
                     slow_disk_env)


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


ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def live_bytes(data_dir):
    """Bytes of the pages LMDB's trees hold in data_dir: pages used minus free pages, times the
    page size (mdb_stat -ef). Unlike the sum of mdb_stat -a's per-table pages, this counts the
    sub-databases of duplicate keys too."""
    out = subprocess.run(["mdb_stat", "-ef", data_dir], check=True, capture_output=True,
                         text=True).stdout
    fields = {}
    for line in out.splitlines():
        name, _, value = line.strip().partition(":")
        fields.setdefault(name, value.strip())
    return (int(fields["Number of pages used"]) - int(fields["Free pages"])) * \
        int(fields["Page size"])


class StorageCostTest(ServerTestCase):
    """What a contact costs in the store: at most its CSV row's bytes plus 64 (bench/storage.sh
    measures the large files). Each upload is measured as the growth of the live pages of the
    store, scheduled far ahead so that no call changes a job meanwhile."""

    ROWS = 10000

    def upload_cost(self, server, auth, agent, csv):
        before = live_bytes(server.data_dir)
        reply = post_multipart(server, "/v1/api/batch-calls",
                               [("agentId", agent), ("scheduledAt", "2099-01-01T00:00:00Z"),
                                ("file", ("c.csv", csv))], auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        self.assertEqual(reply.body["totalCalls"], self.ROWS)
        stored = (live_bytes(server.data_dir) - before) / self.ROWS
        header = csv.index(b"\n") + 1
        return stored, (len(csv) - header) / self.ROWS

    def test_a_contact_costs_at_most_its_csv_bytes_plus_64(self):
        server = self.start_server()
        auth = make_workspace(server)
        agent = request(server, "POST", "/v1/api/agents",
                        {"name": "a", "prompt": "Hello {first_name}.",
                         "fromNumber": "+14155550100"}, auth=auth)
        self.assertEqual(agent.status, 201, agent.body)
        agent = agent.body["id"]
        # Phone numbers only: 13 bytes a row, where the store's own bytes weigh the most.
        rng = random.Random(7)
        numbers = set()
        while len(numbers) < self.ROWS:
            numbers.add("+1415%d%06d" % (rng.randint(2, 9), rng.randrange(10**6)))
        phones = ("phone_number\n" + "".join(n + "\n" for n in sorted(numbers))).encode()
        stored, csv = self.upload_cost(server, auth, agent, phones)
        self.assertLessEqual(stored, csv + 64, f"{stored:.1f} bytes per contact of {csv:.1f}")
        # Six columns, some quoted, as the ingest benchmark's file.
        contacts = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_contacts.py"),
                                   "--rows", str(self.ROWS), "--seed", "3"], check=True,
                                  capture_output=True).stdout
        stored, csv = self.upload_cost(server, auth, agent, contacts)
        self.assertLessEqual(stored, csv + 64, f"{stored:.1f} bytes per contact of {csv:.1f}")


class DiskFullTest(ServerTestCase):
    """A full filesystem (not the store's own limit): the slow-disk shim (test/support) makes
    writes that grow a file of the data directory, and every fsync there, fail with ENOSPC while
    a flag file exists, so the test fills and frees the "disk" at will."""

    def test_full_disk_answers_507_is_not_ready_and_recovers(self):
        workdir = tempfile.mkdtemp(prefix="batchcalld-full-")
        self.addCleanup(shutil.rmtree, workdir, ignore_errors=True)
        data_dir = os.path.join(os.path.realpath(workdir), "data")
        flag = os.path.join(workdir, "full")
        env = dict(slow_disk_env(0), FULL_DISK_FLAG=flag, FULL_DISK_DIR=data_dir)
        server = self.start_server(data_dir=data_dir, env=env)
        auth = make_workspace(server)
        agent = {"name": "a", "prompt": "Hello.", "fromNumber": "+14155550100"}
        made = request(server, "POST", "/v1/api/agents", agent, auth=auth)
        self.assertEqual(made.status, 201, made.body)
        agent_id = made.body["id"]

        def upload(rows):
            data = "phone_number\n" + "".join(f"+1{4152000000 + i}\n" for i in range(rows))
            return post_multipart(server, "/v1/api/batch-calls",
                                  [("agentId", agent_id), ("scheduledAt", "2099-01-01T00:00:00Z"),
                                   ("file", ("c.csv", data.encode()))], auth=auth)

        first = upload(3)
        self.assertEqual(first.status, 201, first.body)

        open(flag, "w").close()
        for reply in (upload(3000), request(server, "POST", "/v1/api/agents", agent, auth=auth)):
            self.assertError(reply, 507, "insufficient_storage")
            self.assertIn("disk is full", reply.body["message"])
            self.assertIn("free disk space", reply.body["message"])
        ready = request(server, "GET", "/readyz")
        self.assertError(ready, 503, "disk_full")
        self.assertIn("disk is full", ready.body["message"])
        self.assertIn("the disk is full", server.logs())
        # Reads are still served.
        batch = request(server, "GET", f"/v1/api/batch-calls/{first.body['batchId']}", auth=auth)
        self.assertEqual(batch.status, 200, batch.body)
        self.assertEqual(request(server, "GET", f"/v1/api/agents/{agent_id}", auth=auth).status,
                         200)

        # Space freed: ready again without any other write, and writes succeed.
        os.unlink(flag)
        self.assertEqual(request(server, "GET", "/readyz").status, 200)
        again = upload(3)
        self.assertEqual(again.status, 201, again.body)
        self.assertEqual(request(server, "POST", "/v1/api/agents", agent, auth=auth).status, 201)
        self.assertIn("the disk has space again", server.logs())


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
