"""Helpers shared by the black-box integration tests of batchcalld.

The tests talk to the real binary over real sockets, so everything here is about starting and
stopping server processes, driving the admin CLI, and speaking HTTP both politely (http.client)
and impolitely (raw bytes on a socket, for pipelining and malformed input). Python standard
library only, so the tests run on any machine that can build the server.
"""

import base64
import hashlib
import hmac
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.path.normpath(os.path.join(HERE, "..", "..", "build", "batchcalld"))
JSON_TYPE = "application/json; charset=utf-8"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 20.0


def binary():
    """Path of the server binary: CTest passes it in BATCHCALLD_BIN, local runs use build/."""
    path = os.environ.get("BATCHCALLD_BIN") or DEFAULT_BIN
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"batchcalld binary not found at {path}; build it or set BATCHCALLD_BIN")
    return path


def slow_disk_env(delay_ms):
    """Environment that makes a server's every fsync wait delay_ms first (test/support), so a
    test can act while a commit is being written. CTest passes the library's path."""
    lib = os.environ.get("BATCHCALLD_SLOW_DISK")
    if not lib or not os.path.exists(lib):
        raise RuntimeError("slow-disk library not found; run through CTest or set "
                           "BATCHCALLD_SLOW_DISK")
    # A sanitizer build wants its runtime first among the preloaded libraries; this one does
    # not replace anything the sanitizer intercepts.
    asan = os.environ.get("ASAN_OPTIONS", "")
    asan = f"{asan}:verify_asan_link_order=0" if asan else "verify_asan_link_order=0"
    return {"LD_PRELOAD": lib, "SLOW_DISK_MS": str(delay_ms), "ASAN_OPTIONS": asan}


# BATCHCALLD_TEST_CLOCK_OFFSET_MS runs the whole suite at another hour: every server started
# here gets it as its --clock-offset-ms (unless a test sets its own), and server_now_ms() is the
# time those servers read (test/clock_runs.sh runs the suite at 03:00 and 12:00 in Los Angeles).
CLOCK_OFFSET_MS = int(os.environ.get("BATCHCALLD_TEST_CLOCK_OFFSET_MS", "0") or 0)


def server_now_ms():
    """The servers' wall clock now, in Unix ms (the real one shifted by CLOCK_OFFSET_MS)."""
    return time.time() * 1000 + CLOCK_OFFSET_MS


def clean_env(extra=None):
    """The test's environment minus any BATCHCALLD_* settings of the developer's shell, which
    would otherwise change the server under test, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHCALLD_")}
    if CLOCK_OFFSET_MS:
        env["BATCHCALLD_CLOCK_OFFSET_MS"] = str(CLOCK_OFFSET_MS)
    env.update(extra or {})
    return env


def free_port():
    """A TCP port that was free a moment ago. Another process could grab it before the server
    binds it, but on a test machine that race is rare enough to accept."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readyz_status(port, timeout=1.0):
    """Status of GET /readyz, or None when nothing answers. It asks for Connection: close so
    the probe never occupies a server connection slot afterwards."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/readyz", headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_ready(port, proc=None, timeout=READY_TIMEOUT):
    """Polls /readyz until it answers 200. Returns False on timeout or if proc exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        if readyz_status(port) == 200:
            return True
        time.sleep(0.05)
    return False


class ServerError(AssertionError):
    """The server process misbehaved (did not start, crashed, or exited with a bad code)."""


class Server:
    """One batchcalld process with its own port, temporary data dir and log files.

    Use it as a context manager. The stop at the end is a SIGTERM followed by a check that the
    exit code is 0, so every test also checks clean shutdown (and, in sanitizer builds, that no
    sanitizer report made the exit code non-zero). Logs are kept in memory after the temporary
    directory is removed so a failing test can still print them.
    """

    def __init__(self, *args, data_dir=None, keep_data=False, env=None, subcommand="serve",
                 port=None):
        self.args = list(args)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.listen = f"{self.host}:{self.port}"
        self.workdir = tempfile.mkdtemp(prefix="batchcalld-it-")
        self.own_data_dir = data_dir is None
        self.data_dir = data_dir or os.path.join(self.workdir, "data")
        self.keep_data = keep_data
        self.env = env or {}
        self.subcommand = subcommand
        self.stdout_path = os.path.join(self.workdir, "stdout.log")
        self.stderr_path = os.path.join(self.workdir, "stderr.log")
        self.proc = None
        self.returncode = None
        self._stdout_mark = 0
        self._saved_logs = None

    def command(self):
        cmd = [binary()]
        if self.subcommand:
            cmd.append(self.subcommand)
        return cmd + ["--listen", self.listen, "--data-dir", self.data_dir] + self.args

    def start(self):
        if self.own_data_dir:
            os.makedirs(self.data_dir, exist_ok=True)
        env = clean_env(self.env)
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self._stdout_mark = out.tell()
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=env)
        self.returncode = None
        if not wait_ready(self.port, self.proc):
            if self.proc.poll() is None:
                self.proc.kill()
            self.returncode = self.proc.wait()
            raise ServerError(f"server not ready within {READY_TIMEOUT}s "
                              f"(exit code {self.returncode})\n{self.logs()}")
        return self

    def kill(self, sig=signal.SIGTERM):
        """Sends a signal without waiting; pair it with wait()."""
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for the process to exit and returns its exit code (negative: killed by signal)."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
            raise ServerError(f"server did not exit within {timeout}s\n{self.logs()}")
        return self.returncode

    def stop(self, check=True):
        """SIGTERM and wait. With check, an exit code other than 0 fails the test: that includes
        crashes during the test that nobody noticed yet."""
        if self.proc is None or self.returncode is not None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait()
        if check and rc != 0:
            raise ServerError(f"server exited with code {rc}, expected 0\n{self.logs()}")
        return rc

    def restart(self):
        """Stops (checking exit code 0) and starts again with the same port, flags and data."""
        self.stop()
        return self.start()

    def close(self, check=True):
        try:
            self.stop(check=check)
        finally:
            self._saved_logs = self.logs()
            if self.keep_data:
                sys.stderr.write(f"kept server files in {self.workdir}\n")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            sys.stderr.write(self.logs())
        self.close(check=exc_type is None)

    def stdout_text(self, since_start=True):
        """What the server printed on stdout, by default only since the latest start()."""
        with open(self.stdout_path, "rb") as f:
            if since_start:
                f.seek(self._stdout_mark)
            return f.read().decode("utf-8", "replace")

    def logs(self, max_lines=200):
        if self._saved_logs is not None:
            return self._saved_logs
        parts = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                lines = []
            parts.append(f"----- server {label} ({self.listen}), last {max_lines} lines -----")
            parts.extend(lines[-max_lines:])
        return "\n".join(parts) + "\n"


class ServerTestCase(unittest.TestCase):
    """Base class that prints the logs of every server a test used when that test fails, and
    offers the assertion helpers for the error body shape every route shares."""

    class_servers = ()

    def run(self, result=None):
        self._servers = []
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for server in list(type(self).class_servers) + self._servers:
                sys.stderr.write(server.logs())
        return outcome

    @classmethod
    def start_class_server(cls, *args, **kwargs):
        """A server shared by all tests of the class, stopped (exit code checked) at the end."""
        server = Server(*args, **kwargs)
        cls.class_servers = list(cls.class_servers) + [server]
        cls.addClassCleanup(server.close)
        return server.start()

    def start_server(self, *args, **kwargs):
        """A server for this test only, stopped (exit code checked) when the test ends."""
        server = Server(*args, **kwargs)
        self._servers.append(server)
        self.addCleanup(server.close)
        return server.start()

    def assertJsonType(self, headers):
        self.assertEqual((headers.get("Content-Type") or "").lower().replace(" ", ""),
                         JSON_TYPE.replace(" ", ""))

    def assertError(self, reply, status, code, **fields):
        """Checks status, JSON content type and the {"error","message",...} body shape."""
        self.assertEqual(reply.status, status, f"body: {reply.body!r}")
        self.assertJsonType(reply.headers)
        self.assertIsInstance(reply.body, dict, reply.body)
        self.assertEqual(reply.body.get("error"), code, reply.body)
        self.assertIsInstance(reply.body.get("message"), str, reply.body)
        self.assertTrue(reply.body["message"], reply.body)
        for name, value in fields.items():
            self.assertEqual(reply.body.get(name), value, reply.body)


# ----- admin CLI -----------------------------------------------------------------------------

def admin_run(data_dir, *args, timeout=20):
    """Runs `batchcalld admin ARGS --data-dir DIR` and returns the CompletedProcess (text)."""
    cmd = [binary(), "admin"] + [str(a) for a in args] + ["--data-dir", data_dir]
    return subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=timeout)


def admin(data_dir, *args):
    """Runs an admin command that must succeed and returns its stdout parsed as JSON."""
    done = admin_run(data_dir, *args)
    if done.returncode != 0:
        raise AssertionError(f"admin {' '.join(map(str, args))} exited {done.returncode}: "
                             f"{done.stderr.strip()}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"admin {' '.join(map(str, args))} printed non-JSON: {done.stdout!r}")


def limit_flags(limits):
    """Turns keyword limits (requests_per_minute=5) into CLI flags (--requests-per-minute 5)."""
    flags = []
    for name, value in limits.items():
        flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


_workspace_counter = [0]


# Tests that are not about compliance dial at any hour and any number of times: their workspaces
# opt out of the calling window and the frequency cap explicitly (the server's defaults protect).
NO_COMPLIANCE = {"allowOutsideFederalWindow": True, "maxAttemptsPerNumber": 0}


def make_workspace(server, name=None, compliance=None, **limits):
    """Creates a workspace through the admin CLI and returns (workspace_id, api_key).
    compliance: its compliance settings (a dict); None opts out of windows and caps
    (NO_COMPLIANCE), {} keeps the server's defaults."""
    if name is None:
        _workspace_counter[0] += 1
        name = f"test-ws-{os.getpid()}-{_workspace_counter[0]}"
    data_dir = server.data_dir if isinstance(server, Server) else server
    rules = NO_COMPLIANCE if compliance is None else compliance
    created = admin(data_dir, "workspace", "create", "--name", name, *limit_flags(limits),
                    "--compliance", json.dumps(rules))
    return created["workspaceId"], created["apiKey"]


# ----- polite HTTP ---------------------------------------------------------------------------

Reply = namedtuple("Reply", "status headers body")


def decode_body(content_type, data):
    """JSON bodies are parsed (a JSON content type with a non-JSON body fails the test),
    anything else is returned as bytes."""
    if (content_type or "").lower().startswith("application/json"):
        try:
            return json.loads(data)
        except ValueError:
            raise AssertionError(f"response says JSON but is not: {data[:300]!r}")
    return data


def encode_body(body, headers):
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(body).encode("utf-8")


def auth_headers(auth):
    if auth is None:
        return {}
    workspace_id, api_key = auth
    return {"x-workspace-id": workspace_id, "x-api-key": api_key}


def address(target):
    """(host, port) of a Server or of a (host, port) pair."""
    return (target.host, target.port) if isinstance(target, Server) else tuple(target)


def request(server, method, path, body=None, headers=None, auth=None, timeout=10):
    """One request on a fresh connection to a Server or (host, port). body: dict/list (sent
    as JSON), str or bytes.
    Returns Reply(status, headers, body) where body is parsed JSON or raw bytes."""
    all_headers = auth_headers(auth)
    payload = encode_body(body, all_headers)
    all_headers.update(headers or {})
    conn = http.client.HTTPConnection(*address(server), timeout=timeout)
    try:
        conn.request(method, path, body=payload, headers=all_headers)
        resp = conn.getresponse()
        data = resp.read()
        return Reply(resp.status, resp.headers, decode_body(resp.headers.get("Content-Type"), data))
    finally:
        conn.close()


# ----- raw HTTP ------------------------------------------------------------------------------

_STATUS_LINE = re.compile(rb"HTTP/(1\.[01]) ([1-5][0-9]{2}) ([^\r\n]*)")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")


class RawResponse:
    """One parsed response: status, reason, ordered header list, body bytes."""

    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def header_values(self, name):
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<RawResponse {self.status} {self.headers!r} {self.body[:200]!r}>"


def _parse_chunked(data, pos):
    """Decodes a chunked body starting at pos. Returns (body, end) or None if incomplete."""
    body = bytearray()
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_field = data[pos:eol].split(b";", 1)[0].strip(b" \t")
        if not _HEX.fullmatch(size_field):
            raise ValueError(f"bad chunk size line {data[pos:eol]!r}")
        size = int(size_field, 16)
        pos = eol + 2
        if size == 0:
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return None
                line, pos = data[pos:eol], eol + 2
                if not line:
                    return bytes(body), pos
        if len(data) < pos + size + 2:
            return None
        body += data[pos:pos + size]
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("chunk data not followed by CRLF")
        pos += size + 2


def parse_response(data, eof=False):
    """Parses the first HTTP/1.x response in data. Returns (RawResponse, bytes used) or None
    when more bytes are needed. eof says the peer closed, which completes a body delimited by
    the end of the connection. Strict on purpose: a malformed response from the server raises
    ValueError, because that is a server bug the tests should see."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if eof and data:
            raise ValueError(f"connection closed inside a response head: {data[:200]!r}")
        return None
    lines = data[:end].split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if not match:
        raise ValueError(f"bad status line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name) or b"\n" in line or b"\r" in line:
            raise ValueError(f"bad header line {line!r}")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    resp = RawResponse(match.group(1).decode(), int(match.group(2)),
                       match.group(3).decode("latin-1"), headers, b"")
    pos = end + 4
    lengths = resp.header_values("Content-Length")
    encodings = resp.header_values("Transfer-Encoding")
    if len(lengths) > 1 or (lengths and encodings):
        raise ValueError(f"ambiguous body framing in {headers!r}")
    if resp.status < 200 or resp.status in (204, 304):
        return resp, pos
    if encodings:
        if encodings[-1].split(",")[-1].strip().lower() != "chunked":
            raise ValueError(f"unsupported Transfer-Encoding {encodings!r}")
        decoded = _parse_chunked(data, pos)
        if decoded is None:
            if eof:
                raise ValueError("connection closed inside a chunked body")
            return None
        resp.body, pos = decoded
        return resp, pos
    if lengths:
        if not lengths[0].isdigit():
            raise ValueError(f"bad Content-Length {lengths[0]!r}")
        size = int(lengths[0])
        if len(data) < pos + size:
            if eof:
                raise ValueError("connection closed inside a body")
            return None
        resp.body = bytes(data[pos:pos + size])
        return resp, pos + size
    if not eof:
        return None
    resp.body = bytes(data[pos:])
    return resp, len(data)


def parse_responses(data, eof=False):
    """Parses a sequence of responses (pipelining). Returns (responses, unparsed rest)."""
    responses = []
    while data:
        parsed = parse_response(data, eof)
        if parsed is None:
            break
        resp, used = parsed
        responses.append(resp)
        data = data[used:]
    return responses, data


class ConnectionClosed(ConnectionError):
    """The server closed the connection before a complete response arrived."""


class RawClient:
    """A plain TCP connection (to a Server or (host, port)) for sending exact bytes and reading
    responses one by one."""

    def __init__(self, server, timeout=5.0):
        self.sock = socket.create_connection(address(server), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.reset = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the server") from None
        except ConnectionResetError:
            self.eof = self.reset = True
            return
        if not chunk:
            self.eof = True
        self.buf += chunk

    def read_response(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            parsed = parse_response(self.buf, self.eof)
            if parsed is not None:
                resp, used = parsed
                self.buf = self.buf[used:]
                return resp
            if self.eof:
                raise ConnectionClosed(f"server closed the connection (reset={self.reset}), "
                                       f"unparsed bytes: {self.buf[:200]!r}")
            self._fill(deadline)

    def read_responses(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        return [self.read_response(max(0.0, deadline - time.monotonic())) for _ in range(count)]

    def wait_closed(self, timeout=3.0):
        """True once the server has closed (FIN or RST) within timeout. Bytes that arrive
        meanwhile stay in self.buf so the caller can check that none did."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except TimeoutError:
                return False
        return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_request(method, path, headers=(), body=b"", version="HTTP/1.1"):
    """Serializes one request exactly as given (plus Host and, when a body is given and no
    framing header is, Content-Length)."""
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    names = {name.lower() for name, _ in headers}
    lines += [f"{name}: {value}" for name, value in headers]
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*parts):
    """Encodes byte strings as a chunked body (one chunk each, then the last-chunk)."""
    out = b""
    for part in parts:
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


# ----- Prometheus text format ----------------------------------------------------------------

Sample = namedtuple("Sample", "name labels value")

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                    r"|[+-]?(?i:inf|infinity)|(?i:nan)")
_META = re.compile(r"#[ \t]+(HELP|TYPE)(?:[ \t]+(\S+)(?:[ \t]+(.*))?)?")
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
_SUFFIXES = (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")),
             ("_count", ("histogram", "summary")))


class MetricsFormatError(ValueError):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []


class Metrics:
    """Parsed exposition: families by name, and lookups that sum samples matching labels."""

    def __init__(self):
        self.families = {}

    def samples(self, name, **labels):
        base = self.family_of(name)
        family = self.families.get(base)
        if family is None:
            return []
        return [s for s in family.samples if s.name == name
                and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name, **labels):
        """Sum over every series of name whose labels include the given ones (0 if none)."""
        return sum(s.value for s in self.samples(name, **labels))

    def family_of(self, sample_name):
        for suffix, kinds in _SUFFIXES:
            base = sample_name[:-len(suffix)]
            if sample_name.endswith(suffix) and base in self.families and \
                    self.families[base].type in kinds:
                return base
        return sample_name


def _unescape(text, allowed, where):
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1] not in allowed:
                raise MetricsFormatError(f"bad escape in {where}: {text!r}")
            out.append(allowed[text[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _parse_float(text, where):
    if not _FLOAT.fullmatch(text):
        raise MetricsFormatError(f"bad number {text!r} in {where}")
    return float(text)


def _parse_labels(line, i):
    """Parses `{name="value",...}` starting at line[i] == '{'. Returns (labels, next index)."""
    labels = {}
    i += 1
    while True:
        while i < len(line) and line[i] in " \t":
            i += 1
        if i < len(line) and line[i] == "}":
            return labels, i + 1
        match = _LABEL_NAME.match(line, i)
        if not match:
            raise MetricsFormatError(f"bad label name at column {i}: {line!r}")
        name = match.group()
        i = match.end()
        if line[i:i + 2] != '="':
            raise MetricsFormatError(f"expected =\" after label {name}: {line!r}")
        i += 2
        start = i
        while i < len(line) and line[i] != '"':
            i += 2 if line[i] == "\\" else 1
        if i >= len(line):
            raise MetricsFormatError(f"unterminated label value: {line!r}")
        if name in labels:
            raise MetricsFormatError(f"duplicate label {name}: {line!r}")
        labels[name] = _unescape(line[start:i], {"\\": "\\", '"': '"', "n": "\n"}, "label value")
        i += 1
        if i < len(line) and line[i] == ",":
            i += 1
        elif i < len(line) and line[i] == "}":
            return labels, i + 1
        else:
            raise MetricsFormatError(f"expected , or }} after label {name}: {line!r}")


def _parse_sample(line):
    match = _METRIC_NAME.match(line)
    if not match:
        raise MetricsFormatError(f"bad metric name: {line!r}")
    name, i, labels = match.group(), match.end(), {}
    if i < len(line) and line[i] == "{":
        labels, i = _parse_labels(line, i)
    if i >= len(line) or line[i] not in " \t":
        raise MetricsFormatError(f"expected a space before the value: {line!r}")
    fields = line[i:].split()
    if len(fields) not in (1, 2):
        raise MetricsFormatError(f"expected value [timestamp]: {line!r}")
    if len(fields) == 2 and not re.fullmatch(r"-?[0-9]+", fields[1]):
        raise MetricsFormatError(f"bad timestamp: {line!r}")
    return Sample(name, labels, _parse_float(fields[0], line))


def _check_histogram(family):
    series = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if s.name.endswith("_bucket"):
            if "le" not in s.labels:
                raise MetricsFormatError(f"{s.name} without le label")
            entry["buckets"].append((_parse_float(s.labels["le"], "le"), s.value))
        elif s.name.endswith("_sum"):
            entry["sum"] = s.value
        elif s.name.endswith("_count"):
            entry["count"] = s.value
        else:
            raise MetricsFormatError(f"histogram {family.name} has a bare sample {s.name}")
    for key, entry in series.items():
        buckets = entry["buckets"]
        if not buckets or buckets[-1][0] != float("inf"):
            raise MetricsFormatError(f"{family.name}{dict(key)} lacks a final le=\"+Inf\" bucket")
        for (le_a, n_a), (le_b, n_b) in zip(buckets, buckets[1:]):
            if not le_a < le_b or n_b < n_a:
                raise MetricsFormatError(f"{family.name}{dict(key)} buckets not cumulative")
        if entry["sum"] is None or entry["count"] is None:
            raise MetricsFormatError(f"{family.name}{dict(key)} lacks _sum or _count")
        if entry["count"] != buckets[-1][1]:
            raise MetricsFormatError(f"{family.name}{dict(key)} _count differs from +Inf bucket")


def parse_metrics(text):
    """Strict parser of the Prometheus text exposition format 0.0.4: HELP/TYPE lines, samples
    `name{label="value",...} value [timestamp]` with \\\\, \\" and \\n escapes, each family in
    one contiguous group, no duplicate series, histograms cumulative with a +Inf bucket equal
    to _count. Raises MetricsFormatError on anything else."""
    if text and not text.endswith("\n"):
        raise MetricsFormatError("exposition does not end with a newline")
    metrics = Metrics()
    current, finished, seen_series = None, set(), set()

    def enter(name):
        nonlocal current
        if name != current:
            if name in finished:
                raise MetricsFormatError(f"lines of {name} are not contiguous")
            if current is not None:
                finished.add(current)
            current = name
        return metrics.families.setdefault(name, Family(name))

    for line in text.split("\n")[:-1]:
        if not line.strip():
            continue
        if line.startswith("#"):
            meta = _META.fullmatch(line)
            if not meta:
                if re.match(r"#[ \t]+(HELP|TYPE)\b", line):
                    raise MetricsFormatError(f"bad {line.split()[1]} line: {line!r}")
                continue
            kind, name, rest = meta.groups()
            if name is None or not _METRIC_NAME.fullmatch(name):
                raise MetricsFormatError(f"bad metric name in {line!r}")
            family = enter(name)
            if kind == "HELP":
                if family.help is not None:
                    raise MetricsFormatError(f"second HELP for {name}")
                family.help = _unescape(rest or "", {"\\": "\\", "n": "\n"}, "HELP")
            else:
                if family.type is not None or family.samples:
                    raise MetricsFormatError(f"TYPE for {name} repeated or after its samples")
                if rest not in _TYPES:
                    raise MetricsFormatError(f"bad TYPE {rest!r} for {name}")
                family.type = rest
            continue
        sample = _parse_sample(line)
        family = enter(metrics.family_of(sample.name))
        series = (sample.name, tuple(sorted(sample.labels.items())))
        if series in seen_series:
            raise MetricsFormatError(f"duplicate series {line!r}")
        seen_series.add(series)
        if family.type == "counter" and not sample.value >= 0:
            raise MetricsFormatError(f"negative or NaN counter {line!r}")
        family.samples.append(sample)
    for family in metrics.families.values():
        if family.type == "histogram":
            _check_histogram(family)
    return metrics


def scrape(server):
    """GET /metrics, checks status and content type, returns the parsed Metrics."""
    reply = request(server, "GET", "/metrics")
    if reply.status != 200:
        raise AssertionError(f"/metrics answered {reply.status}")
    content_type = (reply.headers.get("Content-Type") or "").replace(" ", "").lower()
    if not content_type.startswith("text/plain") or "version=0.0.4" not in content_type:
        raise AssertionError(f"/metrics content type {content_type!r}")
    return parse_metrics(reply.body.decode("utf-8"))


def poll(predicate, timeout=3.0, interval=0.05):
    """Retries predicate until it returns a truthy value or timeout passes; returns the last
    value. Used where the server acts asynchronously (e.g. closing a connection)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ----- multipart uploads (added for test_upload.py) ------------------------------------------

def multipart_body(parts, boundary="----batchcalld-test-boundary-7MA4YWxkTrZu0gW"):
    """Encodes form parts as multipart/form-data, in the order given, the way browsers do.
    parts: list of (name, value); value is a str (a text field) or a tuple
    (filename, bytes[, content_type]) (a file). Returns (body bytes, Content-Type header)."""
    out = []
    for name, value in parts:
        if isinstance(value, tuple):
            filename, data = value[0], value[1]
            ctype = value[2] if len(value) > 2 else "text/csv"
            head = (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    f"Content-Type: {ctype}\r\n")
        else:
            data = value.encode("utf-8")
            head = f'Content-Disposition: form-data; name="{name}"\r\n'
        out += [f"--{boundary}\r\n{head}\r\n".encode("utf-8"), data, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def post_multipart(server, path, parts, auth=None, headers=None, timeout=60):
    """POSTs parts (see multipart_body) with http.client. Returns a Reply."""
    body, ctype = multipart_body(parts)
    return request(server, "POST", path, body, headers={"Content-Type": ctype, **(headers or {})},
                   auth=auth, timeout=timeout)


def curl_multipart(server, path, parts, auth=None, headers=None, timeout=60):
    """POSTs parts (see multipart_body) with `curl -F`, as the public docs tell users to, text
    fields with --form-string so no value is read as @file or <file. Returns a Reply whose
    headers are those of the final response (after any 100 Continue)."""
    host, port = address(server)
    with tempfile.TemporaryDirectory(prefix="batchcalld-curl-") as tmp:
        cmd = ["curl", "-sS", "-o", os.path.join(tmp, "body"), "-D", os.path.join(tmp, "head"),
               "-w", "%{http_code}", "--max-time", str(timeout)]
        for name, value in {**auth_headers(auth), **(headers or {})}.items():
            cmd += ["-H", f"{name}: {value}"]
        for i, (name, value) in enumerate(parts):
            if isinstance(value, tuple):
                file_path = os.path.join(tmp, f"part{i}")
                with open(file_path, "wb") as f:
                    f.write(value[1])
                ctype = value[2] if len(value) > 2 else "text/csv"
                cmd += ["-F", f"{name}=@{file_path};filename={value[0]};type={ctype}"]
            else:
                cmd += ["--form-string", f"{name}={value}"]
        cmd.append(f"http://{host}:{port}{path}")
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
        if not done.stdout.isdigit() or done.stdout == "000":
            raise AssertionError(f"curl got no response (exit {done.returncode}): {done.stderr}")
        with open(os.path.join(tmp, "head"), "rb") as f:
            head = f.read().strip().split(b"\r\n\r\n")[-1]
        with open(os.path.join(tmp, "body"), "rb") as f:
            data = f.read()
    headers = http.client.parse_headers(io.BytesIO(head.split(b"\r\n", 1)[1] + b"\r\n\r\n"))
    return Reply(int(done.stdout), headers, decode_body(headers.get("Content-Type"), data))


def mdb_entries(data_dir, db):
    """Number of entries of one LMDB database of a data dir, read with mdb_stat (lmdb-utils).
    Safe while a server runs (LMDB readers do not block its writer)."""
    done = subprocess.run(["mdb_stat", "-s", db, data_dir], capture_output=True, text=True,
                          timeout=20)
    match = re.search(r"^\s*Entries: (\d+)$", done.stdout, re.M)
    if done.returncode != 0 or not match:
        raise AssertionError(f"mdb_stat -s {db} {data_dir} failed: {done.stdout}{done.stderr}")
    return int(match.group(1))


# ----- dispatch: carrier simulator, keep-alive client, provider signatures -------------------
# (added for test_dispatch.py and test_crash.py)

SIM_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SIM_AUTH_TOKEN = "integration-test-token"
BATCHES = "/v1/api/batch-calls"


def twilio_signature(token, url, params):
    """X-Twilio-Signature as Twilio computes it: base64(HMAC-SHA1(token, url followed by every
    (name, value) pair of the form, sorted, each written as name then value)). params: list of
    (name, value) pairs, not yet encoded."""
    data = url + "".join(name + value for name, value in sorted(params))
    mac = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def hmac_sha256_hex(secret, body):
    """Hex HMAC-SHA256 of body: the http provider dialect's X-Signature of a request body (a
    callback's signs its URL, a newline and the body)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class CarrierSim(Server):
    """`batchcalld carrier-sim` in its own process: the provider simulator alone, so a test can
    read its ledger (what it was asked to dial, from the provider's side) while a server talks
    to it exactly as it would to Twilio (see twilio_flags). Ready once GET /sim/stats answers;
    stopped like a Server, with SIGTERM and exit code 0 expected."""

    def __init__(self, speed=1000, account_sid=SIM_ACCOUNT_SID, auth_token=SIM_AUTH_TOKEN,
                 port=None):
        super().__init__("--sim-speed", str(speed), "--account-sid", account_sid,
                         "--auth-token", auth_token, subcommand="carrier-sim", port=port)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.url = f"http://{self.listen}"

    def command(self):
        return [binary(), "carrier-sim", "--listen", self.listen] + self.args

    def _answers(self):
        try:
            return request(self, "GET", "/sim/stats", headers={"Connection": "close"},
                           timeout=1).status == 200
        except (OSError, http.client.HTTPException):
            return False

    def start(self):
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self._stdout_mark = out.tell()
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=clean_env(self.env))
        self.returncode = None
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                if self.proc.poll() is None:
                    self.proc.kill()
                self.returncode = self.proc.wait()
                raise ServerError(f"carrier-sim not answering within {READY_TIMEOUT}s "
                                  f"(exit code {self.returncode})\n{self.logs()}")
            time.sleep(0.05)
        return self

    def logs(self, max_lines=200):
        return super().logs(max_lines).replace("----- server ", "----- carrier-sim ")

    def _json(self, method, path, body=None):
        reply = request(self, method, path, body)
        if reply.status != 200:
            raise AssertionError(f"carrier-sim {method} {path} answered {reply.status}: "
                                 f"{reply.body!r}")
        return reply.body

    def stats(self):
        """GET /sim/stats: the ledger's counters, perSecond and batches."""
        return self._json("GET", "/sim/stats")

    def dials(self, batch_id):
        """Every create request the simulator received for a batch, in arrival order, as
        (unix_ms, row, seq) tuples, whether it was accepted or not."""
        body = self._json("GET", f"/sim/dials?batch={batch_id}")
        return [tuple(d) for d in body["dials"]]

    def configure(self, **settings):
        """POST /sim/config, e.g. configure(down=True) or configure(fail503=20)."""
        return self._json("POST", "/sim/config", settings)

    def reset(self):
        return self._json("POST", "/sim/reset")


def twilio_flags(sim, server_port):
    """Serve flags that make a server talk to a CarrierSim the way it talks to Twilio in
    production. The server must be started on server_port, since callbacks are signed for
    --public-url."""
    return ["--provider", "twilio", "--twilio-api-base", sim.url,
            "--twilio-account-sid", sim.account_sid, "--twilio-auth-token", sim.auth_token,
            "--public-url", f"http://127.0.0.1:{server_port}"]


class KeepAliveClient:
    """Many requests over one persistent connection, for tests that read thousands of calls.
    When the server closed the idle connection, an idempotent request is sent once more on a
    new one."""

    def __init__(self, target, auth=None, timeout=10):
        self.address = address(target)
        self.auth = auth
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        all_headers = auth_headers(self.auth)
        payload = encode_body(body, all_headers)
        all_headers.update(headers or {})
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(*self.address, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=payload, headers=all_headers)
                resp = self.conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2 or method not in ("GET", "HEAD"):
                    raise
                continue
            if resp.will_close:
                self.close()
            return Reply(resp.status, resp.headers,
                         decode_body(resp.headers.get("Content-Type"), data))

    def get(self, path):
        return self.request("GET", path)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def csv_of(rows, columns=("phone_number", "first_name")):
    """A CSV file (bytes) of rows, each a tuple of values in the order of columns."""
    lines = [",".join(columns)] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


class DispatchTestCase(ServerTestCase):
    """Helpers for tests that place calls: a carrier-sim and a server wired to it, an agent,
    uploads, and waiting for a batch to reach a state. Every process started here has its logs
    printed when the test fails."""

    def start_carrier_sim(self, speed=1000):
        sim = CarrierSim(speed=speed)
        self._servers.append(sim)
        self.addCleanup(sim.close)
        return sim.start()

    def start_twilio_server(self, sim, *flags, **kwargs):
        """A server whose provider is sim, over the Twilio dialect."""
        port = free_port()
        return self.start_server(*twilio_flags(sim, port), *flags, port=port, **kwargs)

    def setup_workspace(self, server, prompt="Hello {first_name}", **limits):
        """A workspace (high request rate unless limits say otherwise) and an agent in it.
        Returns (auth, agent_id)."""
        limits.setdefault("requests_per_minute", 100000)
        auth = make_workspace(server, **limits)
        reply = request(server, "POST", "/v1/api/agents",
                        {"name": "Dispatch test", "prompt": prompt, "fromNumber": "+14155552671"},
                        auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        return auth, reply.body["id"]

    def upload(self, server, auth, agent_id, data, **fields):
        """Uploads a CSV (bytes) with extra form fields; returns the batchId of the 201."""
        parts = [("agentId", agent_id)] + [(k, v) for k, v in fields.items()]
        parts.append(("file", ("contacts.csv", data)))
        reply = post_multipart(server, BATCHES, parts, auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        return reply.body["batchId"]

    def batch(self, server, auth, batch_id):
        """A2 of the batch."""
        reply = request(server, "GET", f"{BATCHES}/{batch_id}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.body

    def wait_batch(self, server, auth, batch_id, until=None, timeout=30.0, interval=0.05):
        """Polls A2 until until(a2) is true (default: the batch is complete) and returns A2;
        fails the test with the last A2 on timeout."""
        until = until or (lambda a2: a2["isComplete"])
        deadline = time.monotonic() + timeout
        while True:
            a2 = self.batch(server, auth, batch_id)
            if until(a2):
                return a2
            if time.monotonic() > deadline:
                self.fail(f"batch {batch_id} not in the expected state within {timeout}s: {a2}")
            time.sleep(interval)

    def calls(self, server, auth, batch_id, rows):
        """A5 of each row, over one keep-alive connection: {row: body}."""
        out = {}
        with KeepAliveClient(server, auth) as client:
            for row in rows:
                reply = client.get(f"{BATCHES}/{batch_id}/calls/call_{row}")
                self.assertEqual(reply.status, 200, reply.body)
                out[row] = reply.body
        return out


# ----- Server-Sent Events (added for test_reads.py) ------------------------------------------

SseEvent = namedtuple("SseEvent", "event id data")


class EventStream:
    """A Server-Sent Events stream read with http.client, one event at a time, the way a browser
    EventSource parses it: `event:`, `id:` and `data:` fields up to a blank line, comment lines
    (heartbeats) skipped, `retry:` remembered. Opening it sends the request and reads the
    response head; status and headers are those of the response (a non-200 answer's body is
    decoded into body, as request() does)."""

    def __init__(self, target, path, auth=None, headers=None, timeout=10, rcvbuf=None):
        self.conn = http.client.HTTPConnection(*address(target), timeout=timeout)
        if rcvbuf:
            # A small receive buffer (set before connecting) makes a client that does not read
            # fill up quickly, so the server sees a slow reader.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect(address(target))
            self.conn.sock = sock
        self.conn.request("GET", path, headers={**auth_headers(auth), **(headers or {})})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.headers
        self.body = None
        self.retry = None
        if self.status != 200:
            self.body = decode_body(self.headers.get("Content-Type"), self.resp.read())

    def next_event(self):
        """The next event as SseEvent(event, id, data), data parsed as JSON when it is JSON;
        None once the server has ended the stream. An event without `event:` is "message"."""
        event, event_id, data = None, None, []
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.rstrip(b"\r\n")
            if not line:
                if data or event is not None:
                    text = b"\n".join(data).decode("utf-8")
                    try:
                        value = json.loads(text)
                    except ValueError:
                        value = text
                    return SseEvent(event or "message", event_id, value)
                continue
            if line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if name == b"event":
                event = value.decode("utf-8")
            elif name == b"id":
                event_id = value.decode("utf-8")
            elif name == b"data":
                data.append(value)
            elif name == b"retry" and value.isdigit():
                self.retry = int(value)

    def events(self):
        """Every remaining event, until the server ends the stream."""
        out = []
        while True:
            ev = self.next_event()
            if ev is None:
                return out
            out.append(ev)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
