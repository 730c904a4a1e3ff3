"""CSV upload (A1 + B1), validate (A8), template (A7) and the batch reads that show what an upload
stored (A2, A3, A5). Every upload is sent twice, once with `curl -F` (what the public docs tell
users to run) and once with the Python multipart encoder of harness.py, since the two frame the
body differently (curl sends Expect: 100-continue for large files, its own boundary and part
headers). Store-level checks read the LMDB data dir with mdb_stat.

The server dials as soon as a batch is stored (the default provider is the built-in simulator),
so a batch uploaded without scheduledAt changes state while a test reads it. Tests that pin down
exactly what an upload stored therefore send scheduledAt far in the future (HOLD, as the last
form field) and see the batch exactly as the upload left it: queued, every usable call waiting.
Batches started at once are checked with what stays true while they are dialled."""

import calendar
import json
import re
import signal
import subprocess
import threading
import time

from harness import (RawClient, ServerTestCase, curl_multipart, make_workspace, mdb_entries,
                     multipart_body, poll, post_multipart, raw_request, request)

UPLOAD = "/v1/api/batch-calls"
VALIDATE = "/v1/api/batch-calls/validate"
TEMPLATE = "/v1/api/batch-calls/template"
CLIENTS = {"python": post_multipart, "curl": curl_multipart}
PROMPT = "Hi {first_name}, see you on {appointment_date}."
CREATED_KEYS = {"batchId", "totalCalls", "status", "message", "validCalls", "invalidRows",
                "duplicateRows", "normalizedRows", "noConsentRows", "suppressedRows", "errors",
                "warnings"}
VALIDATE_KEYS = {"valid", "reason", "totalRows", "validRows", "invalidRows", "duplicateRows",
                 "normalizedRows", "noConsentRows", "suppressedRows", "columns", "encoding",
                 "delimiter", "missingVariables", "unusedColumns", "errors", "errorsTruncated",
                 "warnings", "warningsTruncated"}
ERROR_KEYS = {"row", "column", "code", "value", "message"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
MAX_FILE = 20_000_000
HOLD = "2099-01-01T00:00:00Z"


def csv_bytes(*lines, eol="\n"):
    """A CSV file of the given lines (str, encoded as UTF-8, or bytes kept as they are)."""
    return b"".join((ln.encode("utf-8") if isinstance(ln, str) else ln) + eol.encode()
                    for ln in lines)


def numbers(count, start=0):
    """count distinct valid US numbers in E.164 (+1 415 2xx xxxx)."""
    return [f"+1{4152000000 + start + i}" for i in range(count)]


def contacts(count, start=0):
    """A CSV of count valid contacts with first_name Name<i> (row i+1 is Name<i>)."""
    return csv_bytes("phone_number,first_name",
                     *[f"{n},Name{i}" for i, n in enumerate(numbers(count, start))])


def sized_csv(size):
    """A CSV of exactly size bytes of valid, distinct contacts (~70 bytes a row: about 285,000
    rows for 20 MB); the last row's name pads the file to the exact size. Returns (data, rows)."""
    parts = [b"phone_number,first_name,last_name,email\n"]
    used, i = len(parts[0]), 0
    while True:
        row = b"+1%d,Firstname%06d,Lastname%06d,contact%06d@example.com\n" % (
            4152000000 + i, i, i, i)
        if used + len(row) > size - 300:
            break
        parts.append(row)
        used += len(row)
        i += 1
    last = b"+1%d," % (4152000000 + i)
    pad = size - used - len(last) - len(b",Last,last@example.com\n")
    parts.append(last + b"p" * pad + b",Last,last@example.com\n")
    data = b"".join(parts)
    assert len(data) == size, len(data)
    return data, i + 1


def ms(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * 1000


class UploadHelpers:
    """Calls and assertions shared by the test classes; self.server, self.auth and
    self.agent_id are set up by each class."""

    def upload(self, parts, client="python", auth=None, headers=None, path=UPLOAD):
        return CLIENTS[client](self.server, path, parts, auth=auth or self.auth, headers=headers)

    def file_parts(self, data, agent=True, before=(), after=(), hold=True):
        """Form parts in order: the fields of before, agentId, the file, the fields of after,
        and with hold scheduledAt=HOLD so that the batch stays as uploaded."""
        parts = list(before)
        if agent:
            parts.append(("agentId", self.agent_id if agent is True else agent))
        parts += [("file", ("contacts.csv", data))] + list(after)
        return parts + [("scheduledAt", HOLD)] if hold else parts

    def get(self, path, auth=None):
        return request(self.server, "GET", path, auth=auth or self.auth)

    def assertCreated(self, reply, total, valid, invalid=0, duplicates=0, normalized=0):
        """Checks a 201 of A1/B1 and returns its batchId."""
        self.assertEqual(reply.status, 201, reply.body)
        self.assertJsonType(reply.headers)
        body = reply.body
        self.assertEqual(set(body), CREATED_KEYS, body)
        self.assertRegex(body["batchId"], r"^batch_[0-9A-Z]+$")
        self.assertEqual((body["status"], body["message"]),
                         ("queued", "Batch calls initiated successfully"))
        self.assertEqual((body["totalCalls"], body["validCalls"], body["invalidRows"],
                          body["duplicateRows"], body["normalizedRows"]),
                         (total, valid, invalid, duplicates, normalized), body)
        self.assertEqual(len(body["errors"]), min(20, invalid + duplicates), body)
        for error in body["errors"]:
            self.assertEqual(set(error), ERROR_KEYS, error)
        return body["batchId"]

    def check_batch(self, batch_id, total, waiting, failed, auth=None, held=True):
        """A2 and A3 (and their /v1/batch-calls aliases) of a freshly uploaded batch. Held
        (scheduledAt=HOLD): queued with exactly the expected counters. Started at once: a live
        status, at least the rows that could never be dialled failed, and counters that add up
        to the total either way."""
        for prefix in ("/v1/api/batch-calls", "/v1/batch-calls"):
            a2 = self.get(f"{prefix}/{batch_id}", auth)
            self.assertEqual(a2.status, 200, a2.body)
            self.assertJsonType(a2.headers)
            self.assertEqual((a2.body["id"], a2.body["totalCalls"]), (batch_id, total), a2.body)
            self.assertIsInstance(a2.body["timestamp"], (int, float))
            a3 = self.get(f"{prefix}/{batch_id}/status", auth)
            self.assertEqual(a3.status, 200, a3.body)
            for reply, progress in ((a2.body, a2.body["progress"]), (a3.body, a3.body)):
                counters = (progress["total"], progress["waiting"], progress["active"],
                            progress["completed"], progress["failed"], progress["cancelled"])
                self.assertEqual(sum(counters[1:]), progress["total"], progress)
                self.assertIsInstance(progress["recent_calls"], list)
                if held:
                    self.assertEqual((reply["status"], reply["isComplete"]), ("queued", False))
                    self.assertEqual(counters, (total, waiting, 0, 0, failed, 0), progress)
                    self.assertEqual(progress["averageCallDuration"], 0)
                else:
                    self.assertIn(reply["status"], ("queued", "processing", "completed"))
                    self.assertEqual((progress["total"], progress["cancelled"]), (total, 0))
                    self.assertGreaterEqual(progress["failed"], failed, progress)
            if held:
                self.assertEqual(a2.body["scheduledAt"], ms(HOLD))

    def call(self, batch_id, row, auth=None):
        """A5 of call_<row>, which must exist."""
        reply = self.get(f"{UPLOAD}/{batch_id}/calls/call_{row}", auth)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.body["jobId"], f"call_{row}")
        return reply.body

    def assertWaiting(self, call, phone, metadata):
        """A usable contact of a held batch."""
        self.assertEqual((call["status"], call["phone_number"], call["metadata"]),
                         ("waiting", phone, metadata), call)
        self.assertNotIn("error", call)

    def assertFailedCall(self, call, outcome, error_pattern, metadata=None):
        self.assertEqual((call["status"], call["outcome"]), ("failed", outcome), call)
        self.assertRegex(call.get("error", ""), error_pattern)
        if metadata is not None:
            self.assertEqual(call["metadata"], metadata)

    def validate(self, parts, client="python", auth=None):
        reply = self.upload(parts, client, auth=auth, path=VALIDATE)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertJsonType(reply.headers)
        self.assertEqual(set(reply.body), VALIDATE_KEYS, reply.body)
        return reply.body

    def batch_count(self):
        """The store's batch entries once no staging batch is left. A rejected upload (of this
        test or an earlier one on the same server) may leave a staging batch, which has no
        batchmeta entry yet, for the background purge to remove shortly after; counted before
        the purge, it would make a baseline one too high."""
        def settled():
            meta = mdb_entries(self.server.data_dir, "batchmeta")
            batches = mdb_entries(self.server.data_dir, "batch")
            return (batches,) if batches == meta else None
        count = poll(settled, timeout=20, interval=0.1)
        if count is None:
            raise AssertionError("a staging batch was not purged within 20 s")
        return count[0]

    def assertBatchCount(self, expected, why):
        """The store's batch entries (staging ones included) come back to expected: a rejected
        upload may stage rows that the background purge removes shortly after."""
        self.assertEqual(self.batch_count(), expected, why)

    def wait_for_purge(self, server, job_entries, timeout=20):
        """Waits until the running server's job table is back to job_entries: the background
        removal of a failed, abandoned or interrupted upload has finished."""
        done = poll(lambda: mdb_entries(server.data_dir, "job") == job_entries,
                    timeout=timeout, interval=0.2)
        self.assertTrue(done, f"job entries still {mdb_entries(server.data_dir, 'job')} after "
                              f"{timeout} s, expected {job_entries}: an upload was not removed")

    def assertStoreMatches(self, server, batch_totals):
        """After the server stopped: exactly the given batches exist and the job table holds
        exactly their calls (no rows of rejected, abandoned or interrupted uploads)."""
        self.assertIsNotNone(server.returncode, "stop the server first")
        # jobstate.v2: the per-state index (its entries are its rows, LMDB duplicates). The
        # batches here have valid rows that were never dialled, and a new batch's waiting rows
        # have no entry (src/store/jobindex.h): any entry is left over from another upload.
        got = {db: mdb_entries(server.data_dir, db) for db in ("batch", "batchmeta", "job",
                                                               "jobstate.v2")}
        expected = {"batch": len(batch_totals), "batchmeta": len(batch_totals),
                    "job": sum(batch_totals), "jobstate.v2": 0}
        self.assertEqual(got, expected, "entries left in the store")


def create_agent(server, auth, prompt=PROMPT):
    reply = request(server, "POST", "/v1/api/agents",
                    {"name": "Upload test", "prompt": prompt, "fromNumber": "+14155552671"},
                    auth=auth)
    assert reply.status == 201, reply.body
    return reply.body["id"]


class UploadTest(UploadHelpers, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()
        cls.auth = make_workspace(cls.server, requests_per_minute=100000)
        cls.agent_id = create_agent(cls.server, cls.auth)
        cls.other_auth = make_workspace(cls.server, requests_per_minute=100000)
        cls.other_agent_id = create_agent(cls.server, cls.other_auth)

    # ----- accepted files -------------------------------------------------------------------

    def test_upload_response_and_batch_status(self):
        data = csv_bytes("phone_number,first_name,last_name,email",
                         "+14155550101,Ada,Lovelace,ada@example.com",
                         "+14155550102,Alan,Turing,",
                         "not a number,Grace,Hopper,grace@example.com")
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(data), client)
                batch = self.assertCreated(reply, total=3, valid=2, invalid=1)
                self.assertEqual(reply.body["errors"][0]["row"], 3)
                self.assertEqual(reply.body["errors"][0]["column"], "phone_number")
                self.assertEqual(reply.body["errors"][0]["code"], "invalid_phone_number")
                self.assertEqual(reply.body["errors"][0]["value"], "not a number")
                self.check_batch(batch, total=3, waiting=2, failed=1)
                self.assertWaiting(self.call(batch, 1), "+14155550101",
                                   {"first_name": "Ada", "last_name": "Lovelace",
                                    "email": "ada@example.com"})
                self.assertWaiting(self.call(batch, 2), "+14155550102",
                                   {"first_name": "Alan", "last_name": "Turing", "email": ""})
                self.assertFailedCall(self.call(batch, 3), "invalid_number",
                                      r"^Invalid phone number: ",
                                      {"first_name": "Grace", "last_name": "Hopper",
                                       "email": "grace@example.com"})
                self.assertEqual(self.call(batch, 3)["phone_number"], "not a number")

    def test_batch_started_at_once_keeps_its_counters_adding_up(self):
        """Without scheduledAt the batch is dialled at once: while that happens the counters
        always add up to the total and the rows that cannot be called stay failed."""
        data = csv_bytes("phone_number,first_name", *[f"{n},C{i}" for i, n in
                                                      enumerate(numbers(30, 700))],
                         "+1415,Short", "+14152000700,Again")
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(data, hold=False), client)
                batch = self.assertCreated(reply, total=32, valid=30, invalid=1, duplicates=1)
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    self.check_batch(batch, total=32, waiting=30, failed=2, held=False)
                self.assertFailedCall(self.call(batch, 31), "invalid_number",
                                      r"^Invalid phone number: ", {"first_name": "Short"})
                self.assertFailedCall(self.call(batch, 32), "duplicate", r"\brow 1\b",
                                      {"first_name": "Again"})
                first = self.call(batch, 1)
                self.assertIn(first["status"], ("waiting", "active", "completed", "failed"))
                self.assertEqual((first["phone_number"], first["metadata"]),
                                 ("+14152000700", {"first_name": "C0"}))

    def test_utf8_bom_is_ignored(self):
        data = b"\xef\xbb\xbf" + csv_bytes("phone_number,first_name", "+14155550101,Zoë")
        for client in CLIENTS:
            with self.subTest(client=client):
                checked = self.validate(self.file_parts(data), client)
                self.assertEqual((checked["columns"], checked["encoding"], checked["validRows"]),
                                 (["phone_number", "first_name"], "utf-8", 1), checked)
                batch = self.assertCreated(self.upload(self.file_parts(data), client), 1, 1)
                self.assertWaiting(self.call(batch, 1), "+14155550101", {"first_name": "Zoë"})

    def test_crlf_line_ends(self):
        data = csv_bytes("phone_number,first_name,note", "+14155550101,Ada,one",
                         "+14155550102,Alan,\"two\"", "", eol="\r\n")
        for client in CLIENTS:
            with self.subTest(client=client):
                batch = self.assertCreated(self.upload(self.file_parts(data), client), 2, 2)
                self.check_batch(batch, total=2, waiting=2, failed=0)
                self.assertWaiting(self.call(batch, 1), "+14155550101",
                                   {"first_name": "Ada", "note": "one"})
                self.assertWaiting(self.call(batch, 2), "+14155550102",
                                   {"first_name": "Alan", "note": "two"})

    def test_quoted_fields_with_line_breaks_keep_row_numbers(self):
        data = csv_bytes('phone_number,first_name,note',
                         '+14155550101,Ada,"line one\nline two"',
                         '+14155550102,"Turing, Alan","says ""hi""\r\nthen\nbye"',
                         '+14155550103,Grace,plain')
        for client in CLIENTS:
            with self.subTest(client=client):
                checked = self.validate(self.file_parts(data), client)
                self.assertEqual((checked["totalRows"], checked["validRows"]), (3, 3), checked)
                batch = self.assertCreated(self.upload(self.file_parts(data), client), 3, 3)
                self.assertWaiting(self.call(batch, 1), "+14155550101",
                                   {"first_name": "Ada", "note": "line one\nline two"})
                self.assertWaiting(self.call(batch, 2), "+14155550102",
                                   {"first_name": "Turing, Alan",
                                    "note": 'says "hi"\r\nthen\nbye'})
                self.assertWaiting(self.call(batch, 3), "+14155550103",
                                   {"first_name": "Grace", "note": "plain"})
                missing = self.get(f"{UPLOAD}/{batch}/calls/call_4")
                self.assertEqual((missing.status, missing.body.get("status")),
                                 (404, "not_found"), missing.body)

    def test_semicolon_separated_file(self):
        data = csv_bytes("phone_number;first_name;city", "+14155550101;Ada;London, UK",
                         "+14155550102;Alan;\"Wilmslow; Cheshire\"")
        for client in CLIENTS:
            with self.subTest(client=client):
                checked = self.validate(self.file_parts(data), client)
                self.assertEqual((checked["delimiter"], checked["columns"], checked["validRows"]),
                                 (";", ["phone_number", "first_name", "city"], 2), checked)
                batch = self.assertCreated(self.upload(self.file_parts(data), client), 2, 2)
                self.assertWaiting(self.call(batch, 1), "+14155550101",
                                   {"first_name": "Ada", "city": "London, UK"})
                self.assertWaiting(self.call(batch, 2), "+14155550102",
                                   {"first_name": "Alan", "city": "Wilmslow; Cheshire"})

    def test_windows_1252_file_is_transcoded(self):
        data = csv_bytes(b"phone_number,first_name,last_name", b"+14155550101,Jos\xe9,Garc\xeda",
                         b"+14155550102,J\xfcrgen,M\xfcller \x80")
        for client in CLIENTS:
            with self.subTest(client=client):
                checked = self.validate(self.file_parts(data), client)
                self.assertEqual((checked["encoding"], checked["validRows"]),
                                 ("windows-1252", 2), checked)
                batch = self.assertCreated(self.upload(self.file_parts(data), client), 2, 2)
                self.assertWaiting(self.call(batch, 1), "+14155550101",
                                   {"first_name": "José", "last_name": "García"})
                self.assertWaiting(self.call(batch, 2), "+14155550102",
                                   {"first_name": "Jürgen", "last_name": "Müller €"})
        utf8 = self.validate(self.file_parts(csv_bytes("phone_number,first_name",
                                                       "+14155550101,José")))
        self.assertEqual(utf8["encoding"], "utf-8")

    def test_numbers_without_plus_are_normalized(self):
        data = csv_bytes("phone_number,first_name", "14155550101,Ada", "442079460958,Alan",
                         "+1 (415) 555-0103,Grace", "+14155550104,Edsger")
        for client in CLIENTS:
            with self.subTest(client=client):
                checked = self.validate(self.file_parts(data), client)
                self.assertEqual((checked["validRows"], checked["normalizedRows"]), (4, 3),
                                 checked)
                batch = self.assertCreated(self.upload(self.file_parts(data), client), 4, 4,
                                           normalized=3)
                self.assertWaiting(self.call(batch, 1), "+14155550101", {"first_name": "Ada"})
                self.assertWaiting(self.call(batch, 2), "+442079460958", {"first_name": "Alan"})
                self.assertWaiting(self.call(batch, 3), "+14155550103", {"first_name": "Grace"})
                self.assertWaiting(self.call(batch, 4), "+14155550104", {"first_name": "Edsger"})

    def test_duplicates_fail_naming_the_first_row(self):
        data = csv_bytes("phone_number,first_name", "+14155550101,Ada", "+14155550102,Alan",
                         "+1 415 555 0101,Ada again", "14155550102,Alan again")
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(data), client)
                batch = self.assertCreated(reply, total=4, valid=2, duplicates=2)
                self.assertEqual([(e["row"], e["code"]) for e in reply.body["errors"]],
                                 [(3, "duplicate_phone_number"), (4, "duplicate_phone_number")])
                self.check_batch(batch, total=4, waiting=2, failed=2)
                self.assertFailedCall(self.call(batch, 3), "duplicate", r"\brow 1\b",
                                      {"first_name": "Ada again"})
                self.assertFailedCall(self.call(batch, 4), "duplicate", r"\brow 2\b",
                                      {"first_name": "Alan again"})
                kept = self.upload(self.file_parts(data, before=[("allowDuplicates", "true")]),
                                   client)
                kept_batch = self.assertCreated(kept, total=4, valid=4, normalized=2)
                self.check_batch(kept_batch, total=4, waiting=4, failed=0)
                self.assertWaiting(self.call(kept_batch, 3), "+14155550101",
                                   {"first_name": "Ada again"})
                # After the file (as a client appending the file first sends it) it counts
                # the same: the rows are read again. (It was a 400 invalid_field before.)
                late = self.upload(self.file_parts(data, after=[("allowDuplicates", "true")]),
                                   client)
                late_batch = self.assertCreated(late, total=4, valid=4, normalized=2)
                self.check_batch(late_batch, total=4, waiting=4, failed=0)
                self.assertWaiting(self.call(late_batch, 3), "+14155550101",
                                   {"first_name": "Ada again"})
                checked = self.validate(self.file_parts(data, after=[("allowDuplicates",
                                                                      "true")]), client)
                self.assertEqual((checked["validRows"], checked["duplicateRows"]), (4, 0))

    def test_header_names_with_spaces_and_capitals(self):
        data = csv_bytes("Phone Number, First Name ,LAST_NAME,Plan  Type",
                         "+14155550101,Ada,Lovelace,gold")
        for client in CLIENTS:
            with self.subTest(client=client):
                checked = self.validate(self.file_parts(data), client)
                self.assertEqual(checked["columns"],
                                 ["phone_number", "first_name", "last_name", "plan_type"])
                batch = self.assertCreated(self.upload(self.file_parts(data), client), 1, 1)
                self.assertWaiting(self.call(batch, 1), "+14155550101",
                                   {"first_name": "Ada", "last_name": "Lovelace",
                                    "plan_type": "gold"})

    def test_broken_rows_become_failed_calls(self):
        data = csv_bytes("phone_number,first_name", "+14155550101,Ada", "+1415555,Short",
                         "+14155550103,Too,Many,Fields", "+14155550104,Edsger")
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(data), client)
                batch = self.assertCreated(reply, total=4, valid=2, invalid=2)
                errors = {e["row"]: e for e in reply.body["errors"]}
                self.assertEqual((errors[2]["column"], errors[2]["code"], errors[2]["value"]),
                                 ("phone_number", "invalid_phone_number", "+1415555"))
                self.assertEqual(errors[3]["code"], "invalid_row")
                self.check_batch(batch, total=4, waiting=2, failed=2)
                short = self.call(batch, 2)
                self.assertFailedCall(short, "invalid_number", r"^Invalid phone number: .+",
                                      {"first_name": "Short"})
                self.assertEqual(short["phone_number"], "+1415555")
                self.assertFailedCall(self.call(batch, 3), "invalid_row", r".+")
                self.assertWaiting(self.call(batch, 4), "+14155550104", {"first_name": "Edsger"})

    def test_short_rows_have_empty_trailing_fields(self):
        # Spreadsheets drop trailing empty cells: a row shorter than the header is read as if
        # its missing fields were empty, not rejected.
        data = csv_bytes("first_name,phone_number,last_name,email", "Ada,+14155550101",
                         "Alan,+14155550102,Turing", "Grace,+14155550103,Hopper,g@example.com")
        for client in CLIENTS:
            with self.subTest(client=client):
                checked = self.validate(self.file_parts(data), client)
                self.assertEqual((checked["validRows"], checked["invalidRows"]), (3, 0), checked)
                batch = self.assertCreated(self.upload(self.file_parts(data), client), 3, 3)
                self.assertWaiting(self.call(batch, 1), "+14155550101",
                                   {"first_name": "Ada", "last_name": "", "email": ""})
                self.assertWaiting(self.call(batch, 2), "+14155550102",
                                   {"first_name": "Alan", "last_name": "Turing", "email": ""})

    def test_a1_lists_at_most_20_errors(self):
        data = csv_bytes("phone_number", "+14155550101", *[f"bad{i}" for i in range(25)])
        reply = self.upload(self.file_parts(data))
        self.assertCreated(reply, total=26, valid=1, invalid=25)
        self.assertEqual([e["row"] for e in reply.body["errors"]], list(range(2, 22)))

    # ----- rejected files -------------------------------------------------------------------

    def test_all_invalid_rows_are_422_with_errors(self):
        before = self.batch_count()
        data = csv_bytes("phone_number,first_name", "12,Ada", "abc,Alan", ",Grace")
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(data), client)
                self.assertError(reply, 422, "no_valid_rows")
                self.assertEqual([(e["row"], e["code"]) for e in reply.body["errors"]],
                                 [(1, "invalid_phone_number"), (2, "invalid_phone_number"),
                                  (3, "invalid_phone_number")], reply.body)
                self.assertNotIn("batchId", reply.body)
        self.assertBatchCount(before, "a rejected upload left a batch behind")

    FILE_REJECTIONS = [
        ("no phone column", csv_bytes("first_name,phone", "Ada,+14155550101"), 422,
         "missing_phone_column", "phone_number"),
        ("duplicate column", csv_bytes("phone_number,name,Name", "+14155550101,a,b"), 422,
         "duplicate_column", "name"),
        ("duplicate after normalising", csv_bytes("Phone Number,phone_number", "+1415555010,x"),
         422, "duplicate_column", "phone_number"),
        ("empty file", b"", 422, "empty_file", None),
        ("header only", csv_bytes("phone_number,first_name"), 422, "no_rows", None),
        ("header and blank lines", csv_bytes("phone_number", "", "", eol="\r\n"), 422,
         "no_rows", None),
        ("PNG renamed .csv", PNG + b"\x00" * 64, 422, "invalid_file", "PNG"),
        ("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", 422, "invalid_file", "PDF"),
        ("xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", 422, "invalid_file",
         "xlsx"),
        ("NUL bytes", b"phone\x00_number\n+14155550101\n", 422, "invalid_file", "NUL"),
    ]

    def test_files_that_are_not_contact_lists_are_rejected(self):
        before = self.batch_count()
        for label, data, status, code, mention in self.FILE_REJECTIONS:
            for client in CLIENTS:
                with self.subTest(label, client=client):
                    reply = self.upload(self.file_parts(data), client)
                    self.assertError(reply, status, code)
                    if mention:
                        self.assertIn(mention, reply.body["message"])
                    checked = self.upload(self.file_parts(data), client, path=VALIDATE)
                    self.assertError(checked, status, code)
        self.assertBatchCount(before, "a rejected upload left a batch behind")

    def test_unknown_agent_is_404_with_its_id(self):
        data = contacts(2)
        cases = [("agent_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "agent_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
                 ("no-such-agent", "no-such-agent"),
                 ("of another workspace", self.other_agent_id)]
        for label, agent in cases:
            for client in CLIENTS:
                with self.subTest(label, client=client):
                    reply = self.upload(self.file_parts(data, agent=agent), client)
                    self.assertError(reply, 404, "not_found", id=agent)
                    after_file = self.upload(self.file_parts(data, agent=False) +
                                             [("agentId", agent)], client)
                    self.assertError(after_file, 404, "not_found", id=agent)
                    checked = self.upload(self.file_parts(data, agent=agent), client,
                                          path=VALIDATE)
                    self.assertError(checked, 404, "not_found", id=agent)

    def test_missing_agent_id_is_400(self):
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(contacts(2), agent=False), client)
                self.assertError(reply, 400, "missing_field")
                self.assertIn("agentId", reply.body["message"])

    def test_no_file_part_is_400(self):
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload([("agentId", self.agent_id), ("name", "no file")], client)
                self.assertError(reply, 400, "missing_file")
                checked = self.upload([("agentId", self.agent_id)], client, path=VALIDATE)
                self.assertError(checked, 400, "missing_file")

    def test_not_multipart_is_415(self):
        cases = [("application/json", json.dumps({"agentId": self.agent_id}).encode()),
                 ("text/csv", contacts(2)), (None, contacts(2))]
        for path in (UPLOAD, VALIDATE):
            for ctype, body in cases:
                with self.subTest(path=path, content_type=ctype):
                    headers = {"Content-Type": ctype} if ctype else {}
                    reply = request(self.server, "POST", path, body, headers=headers,
                                    auth=self.auth)
                    self.assertEqual(reply.status, 415, reply.body)
                    self.assertJsonType(reply.headers)
                    self.assertIn("multipart/form-data", reply.body["message"])
        done = subprocess.run(
            ["curl", "-sS", "-w", "\n%{http_code}", "--data-binary", "phone_number\n+1",
             "-H", f"x-workspace-id: {self.auth[0]}", "-H", f"x-api-key: {self.auth[1]}",
             f"http://{self.server.listen}{UPLOAD}"], capture_output=True, text=True, timeout=20)
        self.assertTrue(done.stdout.endswith("\n415"), done.stdout)

    def test_malformed_multipart_is_400(self):
        body, _ = multipart_body(self.file_parts(contacts(2)))
        cases = [("multipart/form-data", body),
                 ("multipart/form-data; boundary=----batchcalld-test-boundary-7MA4YWxkTrZu0gW",
                  body[:-40])]
        for ctype, payload in cases:
            with self.subTest(content_type=ctype):
                reply = request(self.server, "POST", UPLOAD, payload,
                                headers={"Content-Type": ctype}, auth=self.auth)
                self.assertError(reply, 400, "invalid_multipart")

    def test_default_country(self):
        data = csv_bytes("phone_number,first_name", "07700 900123,Ada", "020 7946 0958,Alan")
        for client in CLIENTS:
            with self.subTest(client=client):
                without = self.upload(self.file_parts(data), client)
                self.assertError(without, 422, "no_valid_rows")
                # After the file it counts the same: the rows are read again. (It was a 400
                # invalid_field before.)
                late = self.upload(self.file_parts(data, after=[("defaultCountry", "GB")]),
                                   client)
                late_batch = self.assertCreated(late, total=2, valid=2, normalized=2)
                self.check_batch(late_batch, total=2, waiting=2, failed=0)
                self.assertWaiting(self.call(late_batch, 1), "+447700900123",
                                   {"first_name": "Ada"})
                late_checked = self.validate(self.file_parts(data, after=[("defaultCountry",
                                                                           "GB")]), client)
                self.assertEqual((late_checked["validRows"], late_checked["invalidRows"]),
                                 (2, 0))
                bad = self.upload(self.file_parts(data, before=[("defaultCountry", "XX")]),
                                  client)
                self.assertError(bad, 400, "invalid_field")
                self.assertIn("defaultCountry", bad.body["message"])
                reply = self.upload(self.file_parts(data, before=[("defaultCountry", "GB")]),
                                    client)
                batch = self.assertCreated(reply, total=2, valid=2, normalized=2)
                self.assertWaiting(self.call(batch, 1), "+447700900123", {"first_name": "Ada"})
                self.assertWaiting(self.call(batch, 2), "+442079460958", {"first_name": "Alan"})
                checked = self.validate(self.file_parts(data, before=[("defaultCountry", "GB")]),
                                        client)
                self.assertEqual((checked["validRows"], checked["normalizedRows"]), (2, 2))

    def test_fields_after_a_large_file_read_every_row_again(self):
        # Many chunks of rows: read again from the kept copy of the file, staged under a new
        # batch id; the rows staged before the late fields arrived are purged.
        before = self.batch_count()
        rows = 9000
        lines = [f"077009{i:05d},N{i}" for i in range(rows)] + ["07700900000,Again"]
        data = csv_bytes("phone_number,name", *lines)
        reply = self.upload(self.file_parts(data, after=[("defaultCountry", "GB"),
                                                         ("allowDuplicates", "false")]))
        batch = self.assertCreated(reply, total=rows + 1, valid=rows, duplicates=1,
                                   normalized=rows)
        self.assertEqual([(e["row"], e["code"]) for e in reply.body["errors"]],
                         [(rows + 1, "duplicate_phone_number")])
        self.check_batch(batch, total=rows + 1, waiting=rows, failed=1)
        self.assertWaiting(self.call(batch, rows), f"+4477009{rows - 1:05d}",
                           {"name": f"N{rows - 1}"})
        self.assertBatchCount(before + 1, "the first reading's staging batch was not purged")

    def test_fields_after_the_file_read_again_only_from_the_first_row_they_change(self):
        # The file is kept (and read again) only from the first row a late field could change:
        # here row 9001, a number without +, after more than a chunk of numbers written with +.
        # The rows before it are copied to the new batch, the rest read again: a number that
        # the late country makes a repeat of row 9001, another of a copied row, a line break
        # in quotes, all exactly as when the field comes first.
        before = self.batch_count()
        rows = 9000
        lines = [f"+4477009{i:05d},N{i}" for i in range(rows)]
        lines += ["07700 912345,bare", '07700912346,"x\ny"', "+447700912345,again",
                  "07700900007,repeat", "0770090000x,bad"]
        data = csv_bytes("phone_number,name", *lines)
        fields = [("defaultCountry", "GB")]
        first = self.upload(self.file_parts(data, before=fields))
        late = self.upload(self.file_parts(data, after=fields))
        for reply in (first, late):
            batch = self.assertCreated(reply, total=rows + 5, valid=rows + 2, invalid=1,
                                       duplicates=2, normalized=2)
            self.check_batch(batch, total=rows + 5, waiting=rows + 2, failed=3)
        self.assertEqual({k: v for k, v in first.body.items() if k != "batchId"},
                         {k: v for k, v in late.body.items() if k != "batchId"})
        self.assertEqual([(e["row"], e["code"]) for e in late.body["errors"]],
                         [(rows + 3, "duplicate_phone_number"),
                          (rows + 4, "duplicate_phone_number"),
                          (rows + 5, "invalid_phone_number")])
        batch = late.body["batchId"]
        self.assertWaiting(self.call(batch, 1), "+447700900000", {"name": "N0"})
        self.assertWaiting(self.call(batch, 8500), "+447700908499", {"name": "N8499"})
        self.assertWaiting(self.call(batch, rows + 1), "+447700912345", {"name": "bare"})
        self.assertWaiting(self.call(batch, rows + 2), "+447700912346", {"name": "x\ny"})
        self.assertFailedCall(self.call(batch, rows + 3), "duplicate", rf"\brow {rows + 1}\b",
                              {"name": "again"})
        self.assertFailedCall(self.call(batch, rows + 4), "duplicate", r"\brow 8\b",
                              {"name": "repeat"})
        self.assertBatchCount(before + 2, "the first reading's staging batch was not purged")

    def test_strict_rejects_a_file_with_a_bad_row_and_stores_nothing(self):
        before = self.batch_count()
        data = csv_bytes("phone_number,first_name", "+14155550101,Ada", "+1415,Short",
                         "+14155550101,Ada twice")
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(data, before=[("strict", "true")]), client)
                self.assertError(reply, 422, "invalid_rows")
                self.assertEqual([(e["row"], e["code"]) for e in reply.body["errors"]],
                                 [(2, "invalid_phone_number"), (3, "duplicate_phone_number")])
                self.assertNotIn("batchId", reply.body)
        self.assertBatchCount(before, "strict=true stored a batch")
        good = self.upload(self.file_parts(contacts(2), before=[("strict", "true")]))
        self.assertCreated(good, 2, 2)
        self.assertBatchCount(before + 1, "a strict upload of good rows was not stored once")

    def test_idempotency_key_replays_the_first_batch(self):
        data = csv_bytes("phone_number", "+14155550101", "oops")
        for client in CLIENTS:
            with self.subTest(client=client):
                key = {"Idempotency-Key": f"import-{client}-{time.monotonic_ns()}"}
                first = self.upload(self.file_parts(data), client, headers=key)
                batch = self.assertCreated(first, 2, 1, invalid=1)
                self.assertIsNone(first.headers.get("Idempotent-Replayed"))
                count = self.batch_count()
                again = self.upload(self.file_parts(data), client, headers=key)
                self.assertEqual(again.status, 201, again.body)
                self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
                for name in ("batchId", "totalCalls", "status", "message", "validCalls",
                             "invalidRows", "duplicateRows", "normalizedRows"):
                    self.assertEqual(again.body[name], first.body[name], name)
                # The same key with another request is refused (it used to replay the first
                # batch, silently dropping the new file).
                other_file = self.upload(self.file_parts(contacts(5)), client, headers=key)
                self.assertError(other_file, 422, "idempotency_key_reused",
                                 header="Idempotency-Key")
                self.assertIn(batch, other_file.body["message"])
                self.assertIsNone(other_file.headers.get("Idempotent-Replayed"))
                other_field = self.upload(self.file_parts(data, before=[("name", "Other")]),
                                          client, headers=key)
                self.assertError(other_field, 422, "idempotency_key_reused")
                # The same form framed by the other client (its own boundary and part headers)
                # and with the fields in another order is the same request.
                other_client = "curl" if client == "python" else "python"
                reframed = self.upload([("scheduledAt", HOLD), ("file", ("x.csv", data)),
                                        ("agentId", self.agent_id)], other_client, headers=key)
                self.assertEqual(reframed.status, 201, reframed.body)
                self.assertEqual(reframed.headers.get("Idempotent-Replayed"), "true")
                self.assertEqual(reframed.body["batchId"], batch)
                self.assertEqual(self.batch_count(), count, "a replay stored a batch")
                other_ws = CLIENTS[client](self.server, UPLOAD, [
                    ("agentId", self.other_agent_id), ("file", ("c.csv", data))],
                    auth=self.other_auth, headers=key)
                self.assertNotEqual(self.assertCreated(other_ws, 2, 1, invalid=1), batch)
                fresh = self.upload(self.file_parts(data), client,
                                    headers={"Idempotency-Key": key["Idempotency-Key"] + "-2"})
                self.assertNotEqual(self.assertCreated(fresh, 2, 1, invalid=1), batch)
        too_long = self.upload(self.file_parts(data), headers={"Idempotency-Key": "k" * 256})
        self.assertEqual(too_long.status, 400, too_long.body)

    def test_idempotent_replay_answers_the_original_response(self):
        """A retry with the same key stands in for a response the client lost, so it must carry
        the whole A1/B1 body, row errors included."""
        data = csv_bytes("phone_number", "+14155550101", "oops")
        key = {"Idempotency-Key": f"replay-{time.monotonic_ns()}"}
        first = self.upload(self.file_parts(data), headers=key)
        self.assertCreated(first, 2, 1, invalid=1)
        again = self.upload(self.file_parts(data), headers=key)
        self.assertEqual(again.status, 201, again.body)
        self.assertEqual(again.body, first.body)

    def test_same_idempotency_key_at_the_same_time_with_another_file_is_refused(self):
        """Two uploads with one key racing: the one that commits second finds the key taken;
        with a different file it answers 422 and stores nothing."""
        key = f"race-other-{time.monotonic_ns()}"
        bodies = [multipart_body(self.file_parts(contacts(n))) for n in (3, 4)]
        heads = [raw_request("POST", UPLOAD, headers=[
            ("x-workspace-id", self.auth[0]), ("x-api-key", self.auth[1]),
            ("Content-Type", ctype), ("Idempotency-Key", key),
            ("Content-Length", str(len(body)))]) for body, ctype in bodies]
        before = self.batch_count()
        with RawClient(self.server) as a, RawClient(self.server) as b:
            a.send(heads[0] + bodies[0][0][:100])
            b.send(heads[1] + bodies[1][0][:100])
            self.assertEqual(request(self.server, "GET", "/healthz").status, 200)
            a.send(bodies[0][0][100:])
            first = a.read_response()
            b.send(bodies[1][0][100:])
            second = b.read_response()
        self.assertEqual((first.status, second.status), (201, 422), (first, second))
        self.assertEqual(second.json()["error"], "idempotency_key_reused")
        self.assertBatchCount(before + 1, "the refused upload was stored")

    def test_same_idempotency_key_at_the_same_time_creates_one_batch(self):
        key = f"race-{time.monotonic_ns()}"
        body, ctype = multipart_body(self.file_parts(contacts(3)))
        head = raw_request("POST", UPLOAD, headers=[
            ("x-workspace-id", self.auth[0]), ("x-api-key", self.auth[1]),
            ("Content-Type", ctype), ("Idempotency-Key", key),
            ("Content-Length", str(len(body)))])
        before = self.batch_count()
        with RawClient(self.server) as a, RawClient(self.server) as b:
            a.send(head + body[:100])
            b.send(head + body[:100])
            # Both heads read before either upload ends, whatever the machine's load: a request
            # on another connection is answered only after the bytes sent before it were read.
            self.assertEqual(request(self.server, "GET", "/healthz").status, 200)
            a.send(body[100:])
            first = a.read_response()
            b.send(body[100:])
            second = b.read_response()
        self.assertEqual((first.status, second.status), (201, 201), (first, second))
        self.assertEqual(first.json()["batchId"], second.json()["batchId"])
        self.assertEqual(second.header("Idempotent-Replayed"), "true")
        self.assertBatchCount(before + 1, "both uploads with one key were stored")

    def test_too_many_rows_for_the_workspace(self):
        auth = make_workspace(self.server, requests_per_minute=100000, max_records=50)
        agent = create_agent(self.server, auth)
        for client in CLIENTS:
            with self.subTest(client=client):
                parts = [("agentId", agent), ("file", ("c.csv", contacts(100)))]
                reply = CLIENTS[client](self.server, UPLOAD, parts, auth=auth)
                self.assertError(reply, 422, "too_many_rows")
                self.assertIn("50", reply.body["message"])
                checked = CLIENTS[client](self.server, VALIDATE, parts, auth=auth)
                self.assertError(checked, 422, "too_many_rows")
                exact = CLIENTS[client](self.server, UPLOAD,
                                        [("agentId", agent), ("file", ("c.csv", contacts(50)))],
                                        auth=auth)
                self.assertCreated(exact, 50, 50)

    # ----- form fields ----------------------------------------------------------------------

    def test_scheduled_at_that_does_not_exist_says_so(self):
        for value, why in (("2030-02-30T00:00:00Z", "February 2030 has 28 days"),
                           ("2028-02-30T00:00:00Z", "February 2028 has 29 days"),
                           ("2030-04-31T10:00:00+02:00", "April 2030 has 30 days"),
                           ("2030-13-01T00:00:00Z", "months run from 01 to 12"),
                           ("2030-01-01T24:00:00Z", "hours run from 00 to 23")):
            with self.subTest(value=value):
                reply = self.upload(self.file_parts(
                    contacts(2), before=[("scheduledAt", value)], hold=False))
                self.assertError(reply, 400, "invalid_field", field="scheduledAt")
                self.assertIn("does not exist", reply.body["message"])
                self.assertIn(why, reply.body["message"])
                self.assertNotIn("ISO-8601", reply.body["message"])
        reply = self.upload(self.file_parts(contacts(2), before=[("scheduledAt", "tomorrow")],
                                            hold=False))
        self.assertError(reply, 400, "invalid_field", field="scheduledAt")
        self.assertIn("ISO-8601", reply.body["message"])

    def test_scheduled_at(self):
        for value in ("tomorrow", "2026-12-01 15:00", "2026-12-01T15:00:00",
                      "2026-13-01T15:00:00Z", "2026-02-30T15:00:00Z", "1700000000000"):
            for client in CLIENTS:
                with self.subTest(value=value, client=client):
                    reply = self.upload(self.file_parts(
                        contacts(2), before=[("scheduledAt", value)], hold=False), client)
                    self.assertError(reply, 400, "invalid_field")
                    self.assertIn("scheduledAt", reply.body["message"])
        for client in CLIENTS:
            with self.subTest("valid", client=client):
                reply = self.upload(self.file_parts(
                    contacts(2), after=[("scheduledAt", "2030-01-02T03:04:05Z")], hold=False),
                    client)
                batch = self.assertCreated(reply, 2, 2)
                status = self.get(f"{UPLOAD}/{batch}").body
                self.assertEqual((status["scheduledAt"], status["status"],
                                  status["progress"]["waiting"]),
                                 (ms("2030-01-02T03:04:05Z"), "queued", 2), status)
                self.check_batch(batch, total=2, waiting=2, failed=0, held=False)

    SMART_BAD = [
        ("not json", "{enabled: true}", "smartCallbackConfig"),
        ("not an object", "[1, 2]", "smartCallbackConfig"),
        ("enabled not bool", '{"enabled": "yes"}', "enabled"),
        ("maxAttempts 11", '{"enabled": true, "maxAttempts": 11, "gaps": [{"hours": 4}]}',
         "maxAttempts"),
        ("maxAttempts 0", '{"enabled": true, "maxAttempts": 0, "gaps": [{"hours": 4}]}',
         "maxAttempts"),
        ("maxAttempts 2.5", '{"enabled": true, "maxAttempts": 2.5, "gaps": [{"hours": 4}]}',
         "maxAttempts"),
        ("no gaps", '{"enabled": true, "maxAttempts": 3}', "gaps"),
        ("negative gap", '{"enabled": true, "maxAttempts": 2, "gaps": [{"days": -1}]}', "gap"),
        ("zero gap", '{"enabled": true, "maxAttempts": 2, "gaps": [{"days": 0, "hours": 0}]}',
         "gap"),
    ]

    def test_smart_callback_config(self):
        for label, value, mention in self.SMART_BAD:
            for client in CLIENTS:
                with self.subTest(label, client=client):
                    reply = self.upload(self.file_parts(
                        contacts(2), before=[("smartCallbackConfig", value)]), client)
                    self.assertError(reply, 400, "invalid_field")
                    self.assertIn("smartCallbackConfig", reply.body["message"])
                    self.assertIn(mention, reply.body["message"])
        good = '{"enabled": true, "maxAttempts": 3, "gaps": [{"days": 1, "hours": 2}]}'
        for value in (good, '{"enabled": false}',
                      '{"enabled": true, "maxAttempts": 10, "gaps": [{"hours": 1}]}'):
            for client in CLIENTS:
                with self.subTest("valid", value=value, client=client):
                    reply = self.upload(self.file_parts(
                        contacts(2), after=[("smartCallbackConfig", value)]), client)
                    self.assertCreated(reply, 2, 2)

    def test_scheduled_batch_waits_for_its_time(self):
        """A1/A2: a batch with a future scheduledAt is accepted as queued and nothing of it is
        dialled before that time (every other test that holds its batch relies on this). A
        fresh workspace, so that its calls-per-second bucket is full and could dial at once."""
        auth = make_workspace(self.server, requests_per_minute=100000)
        agent = create_agent(self.server, auth)
        for client in CLIENTS:
            with self.subTest(client=client):
                parts = [("agentId", agent), ("scheduledAt", HOLD),
                         ("file", ("c.csv", contacts(3, 900)))]
                batch = self.assertCreated(CLIENTS[client](self.server, UPLOAD, parts, auth=auth),
                                           3, 3)
                deadline = time.monotonic() + 0.5
                while time.monotonic() < deadline:
                    self.check_batch(batch, total=3, waiting=3, failed=0, auth=auth)
                for row in (1, 2, 3):
                    self.assertEqual(self.call(batch, row, auth)["status"], "waiting")

    FIELD_BAD = [("maxConcurrency", "0"), ("maxConcurrency", "51"), ("maxConcurrency", "many"),
                 ("callsPerSecond", "0"), ("callsPerSecond", "11"), ("callsPerSecond", "fast"),
                 ("webhookUrl", "ftp://hooks.example.com/x"), ("webhookUrl", "hooks.example.com"),
                 ("strict", "maybe"), ("allowDuplicates", "maybe"), ("name", "n" * 201)]

    def test_invalid_optional_fields_are_400(self):
        for name, value in self.FIELD_BAD:
            for client in CLIENTS:
                with self.subTest(field=name, value=value[:20], client=client):
                    reply = self.upload(self.file_parts(contacts(2), before=[(name, value)]),
                                        client)
                    self.assertError(reply, 400, "invalid_field")
                    self.assertIn(name, reply.body["message"])
        twice = self.upload(self.file_parts(contacts(2), before=[("name", "a"), ("name", "b")]))
        self.assertError(twice, 400, "invalid_field")
        two_files = self.upload(self.file_parts(contacts(2), after=[("file", ("b.csv", b"x"))]))
        self.assertEqual(two_files.status, 400, two_files.body)
        fields = [("name", "Spring campaign"), ("maxConcurrency", "50"),
                  ("callsPerSecond", "2.5"), ("webhookUrl", "https://hooks.example.com/a?b=c"),
                  ("strict", "false"), ("allowDuplicates", "false"), ("unknownField", "x")]
        for client in CLIENTS:
            with self.subTest("valid", client=client):
                self.assertCreated(self.upload(self.file_parts(contacts(2), before=fields),
                                               client), 2, 2)

    def test_invalid_field_errors_name_the_field(self):
        """README: error bodies carry `field` on a validation error (as agents do)."""
        for name, value in (("scheduledAt", "tomorrow"), ("smartCallbackConfig", "{"),
                            ("maxConcurrency", "0"), ("defaultCountry", "XX")):
            with self.subTest(field=name):
                reply = self.upload(self.file_parts(contacts(2), before=[(name, value)],
                                                    hold=False))
                self.assertError(reply, 400, "invalid_field", field=name)

    # ----- concurrency ----------------------------------------------------------------------

    def test_four_uploads_at_the_same_time(self):
        results = {}

        def run(i):
            data = csv_bytes("phone_number,first_name",
                             *[f"{n},T{i}-{k}" for k, n in enumerate(numbers(500 * (i + 1),
                                                                             i * 10000))],
                             *[f"bad{k},x" for k in range(i)])
            client = "curl" if i % 2 else "python"
            try:
                results[i] = self.upload(self.file_parts(data), client)
            except Exception as exc:  # reported by the main thread
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        batches = set()
        for i in range(4):
            with self.subTest(upload=i):
                reply = results.get(i)
                self.assertNotIsInstance(reply, Exception)
                total = 500 * (i + 1) + i
                batch = self.assertCreated(reply, total, 500 * (i + 1), invalid=i)
                self.check_batch(batch, total=total, waiting=500 * (i + 1), failed=i)
                self.assertWaiting(self.call(batch, 7), numbers(1, i * 10000 + 6)[0],
                                   {"first_name": f"T{i}-6"})
                batches.add(batch)
        self.assertEqual(len(batches), 4)

    # ----- reading batches ------------------------------------------------------------------

    def test_batches_of_other_workspaces_are_404(self):
        batch = self.assertCreated(self.upload(self.file_parts(contacts(2))), 2, 2)
        for prefix in ("/v1/api/batch-calls", "/v1/batch-calls"):
            for suffix in ("", "/status", "/calls/call_1"):
                with self.subTest(prefix=prefix, suffix=suffix):
                    reply = self.get(f"{prefix}/{batch}{suffix}", auth=self.other_auth)
                    self.assertError(reply, 404, "not_found")
                    if suffix != "/calls/call_1":
                        self.assertEqual(reply.body.get("id"), batch)
                    unknown = self.get(f"{prefix}/batch_01ZZZZZZZZZZZZZZZZZZZZZZZZ{suffix}")
                    self.assertError(unknown, 404, "not_found")
                    self.assertEqual(self.get(f"{prefix}/{batch}{suffix}").status, 200)

    def test_unknown_calls_are_404_not_found(self):
        batch = self.assertCreated(self.upload(self.file_parts(contacts(2))), 2, 2)
        for job in ("call_3", "call_0", "call_01", "call_x", "call_", "1", "call_99999999999"):
            with self.subTest(job=job):
                reply = self.get(f"{UPLOAD}/{batch}/calls/{job}")
                self.assertError(reply, 404, "not_found")
                self.assertEqual(reply.body.get("status"), "not_found", reply.body)

    def test_alias_prefix(self):
        alias = "/v1/batch-calls"
        data = csv_bytes("phone_number,first_name", "+14155550101,Ada", "bad,Alan")
        for client in CLIENTS:
            with self.subTest(client=client):
                batch = self.assertCreated(self.upload(self.file_parts(data), client, path=alias),
                                           2, 1, invalid=1)
                self.check_batch(batch, total=2, waiting=1, failed=1)
                self.assertWaiting(request(self.server, "GET", f"{alias}/{batch}/calls/call_1",
                                           auth=self.auth).body,
                                   "+14155550101", {"first_name": "Ada"})
                checked = self.upload(self.file_parts(data), client, path=alias + "/validate")
                self.assertEqual((checked.status, checked.body.get("invalidRows")), (200, 1))
        template = self.get(alias + "/template")
        self.assertEqual(template.status, 200)
        self.assertEqual(template.body, self.get(TEMPLATE).body)

    def test_template(self):
        reply = self.get(TEMPLATE)
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers.get("Content-Type").replace(" ", "").lower(),
                         "text/csv;charset=utf-8")
        self.assertEqual(reply.headers.get("Content-Disposition"),
                         'attachment; filename="batch-calls-template.csv"')
        lines = reply.body.decode("utf-8").splitlines()
        self.assertEqual(lines[0], "phone_number,first_name,last_name,email")
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(len(lines[1].split(",")), 4)
        agent = create_agent(self.server, self.auth,
                             "Hi {first_name} {Plan}, your {appointment_date} at {plan} {email}")
        with_agent = self.get(f"{TEMPLATE}?agentId={agent}")
        self.assertEqual(with_agent.status, 200)
        self.assertEqual(with_agent.headers.get("Content-Disposition"),
                         'attachment; filename="batch-calls-template.csv"')
        lines = with_agent.body.decode("utf-8").splitlines()
        self.assertEqual(lines[0], "phone_number,first_name,last_name,email,plan,appointment_date")
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(len(lines[1].split(",")), 6)
        # The template is itself a valid upload for its agent.
        parts = [("agentId", agent), ("file", ("t.csv", with_agent.body))]
        checked = self.validate(parts)
        self.assertEqual((checked["valid"], checked["missingVariables"]), (True, []), checked)
        for bad in ("agent_01ZZZZZZZZZZZZZZZZZZZZZZZZ", self.other_agent_id):
            with self.subTest(agent=bad):
                self.assertError(self.get(f"{TEMPLATE}?agentId={bad}"), 404, "not_found")

    def test_validate_reports_missing_variables_and_unused_columns(self):
        before = self.batch_count()
        data = csv_bytes("phone_number,First Name,plan", "+14155550101,Ada,gold",
                         "+14155550102,Alan,", "+1 415 555 0101,Ada again,silver", "12,x,y")
        for client in CLIENTS:
            with self.subTest(client=client):
                body = self.validate(self.file_parts(data), client)
                expected = {"valid": False, "totalRows": 4, "validRows": 2, "invalidRows": 1,
                            "duplicateRows": 1, "normalizedRows": 0,
                            "columns": ["phone_number", "first_name", "plan"],
                            "encoding": "utf-8", "delimiter": ",",
                            "missingVariables": ["appointment_date"], "unusedColumns": ["plan"],
                            "errorsTruncated": False}
                self.assertEqual({k: body[k] for k in expected}, expected, body)
                self.assertEqual([(e["row"], e["column"], e["code"]) for e in body["errors"]],
                                 [(3, "phone_number", "duplicate_phone_number"),
                                  (4, "phone_number", "invalid_phone_number")])
                self.assertIn("1 of 4 rows cannot be called", body["reason"])
                self.assertIn("{appointment_date}", body["reason"])
                good = csv_bytes("phone_number,first_name,appointment_date",
                                 "+14155550101,Ada,Monday")
                fine = self.validate(self.file_parts(good), client)
                self.assertEqual((fine["valid"], fine["missingVariables"], fine["unusedColumns"]),
                                 (True, [], []), fine)
                self.assertIsNone(fine["reason"])
                # Every row fine, only a variable missing: errors is empty, reason says why.
                rows_fine = csv_bytes("phone_number,first_name", "+14155550101,Ada")
                only_vars = self.validate(self.file_parts(rows_fine), client)
                self.assertEqual((only_vars["valid"], only_vars["errors"],
                                  only_vars["missingVariables"]),
                                 (False, [], ["appointment_date"]), only_vars)
                self.assertIn("{appointment_date}", only_vars["reason"])
                self.assertIn("missingVariables", only_vars["reason"])
                anonymous = self.validate(self.file_parts(data, agent=False), client)
                self.assertEqual((anonymous["totalRows"], anonymous["missingVariables"]), (4, []))
        self.assertEqual(self.batch_count(), before, "validate stored a batch")

    def test_validate_lists_at_most_1000_errors(self):
        data = csv_bytes("phone_number", *[f"x{i}" for i in range(1005)], "+14155550101")
        body = self.validate(self.file_parts(data))
        self.assertEqual((body["totalRows"], body["invalidRows"], len(body["errors"]),
                          body["errorsTruncated"]), (1006, 1005, 1000, True))

    def test_body_over_the_upload_limit_is_refused_from_its_head(self):
        head = raw_request("POST", UPLOAD, headers=[
            ("x-workspace-id", self.auth[0]), ("x-api-key", self.auth[1]),
            ("Content-Type", "multipart/form-data; boundary=xyz"),
            ("Content-Length", "21000001")])
        with RawClient(self.server) as client:
            client.send(head)
            reply = client.read_response()
            self.assertEqual(reply.status, 413, reply)
            self.assertEqual(reply.json()["error"], "payload_too_large")
            self.assertTrue(client.wait_closed(), "connection left open after a refused body")


class LargeUploadTest(UploadHelpers, ServerTestCase):
    """20 MB files, and uploads that end half-way (client gone, server killed)."""

    @classmethod
    def setUpClass(cls):
        cls.big, cls.big_rows = sized_csv(MAX_FILE)
        cls.too_big = cls.big[:-len(b",Last,last@example.com\n")] + b"p,Last,last@example.com\n"
        assert len(cls.too_big) == MAX_FILE + 1
        cls.server = cls.start_class_server()
        cls.auth = make_workspace(cls.server, requests_per_minute=100000)
        cls.agent_id = create_agent(cls.server, cls.auth)

    def own_server(self):
        """A server of this test only, with a workspace and an agent; self.* point to it."""
        self.server = self.start_server()
        self.auth = make_workspace(self.server, requests_per_minute=100000)
        self.agent_id = create_agent(self.server, self.auth)
        return self.server

    def raw_upload_head(self, body_len, ctype):
        return raw_request("POST", UPLOAD, headers=[
            ("x-workspace-id", self.auth[0]), ("x-api-key", self.auth[1]),
            ("Content-Type", ctype), ("Content-Length", str(body_len))])

    def start_half_upload(self):
        """Sends the head and half of a 20 MB upload on a raw connection, and waits until the
        server has staged some of its rows. Returns the open RawClient."""
        baseline = mdb_entries(self.server.data_dir, "job")
        body, ctype = multipart_body(self.file_parts(self.big))
        client = RawClient(self.server, timeout=20)
        client.send(self.raw_upload_head(len(body), ctype) + body[:len(body) // 2])
        staged = poll(lambda: mdb_entries(self.server.data_dir, "job") > baseline, timeout=10)
        self.assertTrue(staged, "the server staged no rows of a half-sent upload")
        return client

    def test_20mb_file_is_accepted(self):
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(self.big), client)
                batch = self.assertCreated(reply, self.big_rows, self.big_rows)
                self.check_batch(batch, total=self.big_rows, waiting=self.big_rows, failed=0)
                last = self.call(batch, self.big_rows)
                self.assertEqual(last["status"], "waiting")
                self.assertEqual(last["metadata"]["last_name"], "Last")

    def test_one_byte_over_20mb_is_413_and_leaves_nothing(self):
        server = self.own_server()
        small = self.assertCreated(self.upload(self.file_parts(contacts(3))), 3, 3)
        for client in CLIENTS:
            with self.subTest(client=client):
                reply = self.upload(self.file_parts(self.too_big), client)
                self.assertError(reply, 413, "payload_too_large")
        self.assertEqual(self.get(f"{UPLOAD}/{small}").status, 200)
        self.wait_for_purge(server, 3)
        server.stop()
        self.assertStoreMatches(server, [3])

    def test_unknown_agent_before_a_large_file_is_answered_early(self):
        agent = "agent_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
        body, ctype = multipart_body(self.file_parts(self.big, agent=agent))
        with RawClient(self.server, timeout=10) as client:
            client.send(self.raw_upload_head(len(body), ctype) + body[:256 * 1024])
            reply = client.read_response(timeout=5)
            self.assertEqual(reply.status, 404, reply)
            self.assertEqual(reply.json()["error"], "not_found")
            self.assertEqual(reply.json()["id"], agent)
        curl = curl_multipart(self.server, UPLOAD, self.file_parts(self.big, agent=agent),
                              auth=self.auth)
        self.assertError(curl, 404, "not_found", id=agent)
        self.assertEqual(request(self.server, "GET", "/healthz").status, 200)

    def test_client_disconnecting_half_way_leaves_nothing(self):
        server = self.own_server()
        small = self.assertCreated(self.upload(self.file_parts(contacts(3))), 3, 3)
        client = self.start_half_upload()
        client.close()
        self.assertEqual(request(server, "GET", "/healthz").status, 200)
        after = self.assertCreated(self.upload(self.file_parts(contacts(4, 100))), 4, 4)
        self.check_batch(small, total=3, waiting=3, failed=0)
        self.check_batch(after, total=4, waiting=4, failed=0)
        self.wait_for_purge(server, 7)
        server.stop()
        self.assertStoreMatches(server, [3, 4])

    def test_server_stopped_half_way_through_an_upload(self):
        """SIGTERM then SIGINT (stop now) while rows are being written on the thread pool: the
        server exits cleanly, the write in flight lands after the connection is gone, and the
        next start removes the staged rows."""
        server = self.own_server()
        small = self.assertCreated(self.upload(self.file_parts(contacts(3))), 3, 3)
        client = self.start_half_upload()
        # More of the body, so a chunk is likely being written when the signals come.
        body, ctype = multipart_body(self.file_parts(self.big))
        client.send(body[len(body) // 2:len(body) * 3 // 4])
        server.kill(signal.SIGTERM)
        time.sleep(0.05)
        server.kill(signal.SIGINT)
        self.assertEqual(server.wait(), 0, server.logs())
        client.close()
        server.start()
        self.check_batch(small, total=3, waiting=3, failed=0)
        self.wait_for_purge(server, 3)
        server.stop()
        self.assertStoreMatches(server, [3])

    def test_server_killed_half_way_through_an_upload(self):
        server = self.own_server()
        small = self.assertCreated(self.upload(self.file_parts(contacts(3))), 3, 3)
        client = self.start_half_upload()
        server.kill(signal.SIGKILL)
        self.assertEqual(server.wait(), -signal.SIGKILL)
        client.close()
        server.start()
        found = re.search(r'removing an upload interrupted by a restart.* batch=(batch_\w+)',
                          server.logs(10000))
        self.assertTrue(found, "the restart did not mention the interrupted upload")
        staged = found.group(1)
        self.assertError(self.get(f"{UPLOAD}/{staged}"), 404, "not_found", id=staged)
        self.check_batch(small, total=3, waiting=3, failed=0)
        self.wait_for_purge(server, 3)
        self.assertError(self.get(f"{UPLOAD}/{staged}/status"), 404, "not_found", id=staged)
        server.stop()
        self.assertStoreMatches(server, [3])
