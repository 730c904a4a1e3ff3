#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses, test/fuzz/corpus/NAME/, from the unit-test
tables (the C string literals of test/unit/...) plus a few hand-written inputs per harness.
Run it again after changing a table: python3 test/fuzz/seeds.py (it rewrites the directories)."""

import hashlib
import os
import re
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(HERE, "..", "unit")
OUT = os.path.join(HERE, "corpus")
MAX_SEEDS = 60
MAX_BYTES = 4096

# Adjacent C string literals (with comments or whitespace between them) form one string.
LITERALS = re.compile(r'"((?:[^"\\\n]|\\.)*)"((?:\s*"(?:[^"\\\n]|\\.)*")*)')
ONE = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        simple = {"n": 10, "r": 13, "t": 9, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8, "f": 12,
                  "v": 11, "?": 63}
        if n in simple:
            out.append(simple[n])
            i += 2
        elif n == "x":
            m = re.match(r"[0-9a-fA-F]+", s[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif n in "01234567":
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        else:
            out += n.encode()
            i += 2
    return bytes(out)


def strings(path):
    """Every string literal group of a C file, as bytes."""
    text = open(os.path.join(UNIT, path), encoding="utf-8").read()
    for m in LITERALS.finditer(text):
        yield b"".join(unescape(x) for x in ONE.findall(m.group(0)))


def phone_seeds():
    text = open(os.path.join(UNIT, "ingest/phone_test.c"), encoding="utf-8").read()
    for m in re.finditer(r'\{\s*"((?:[^"\\]|\\.)*)",\s*(NULL|"([A-Za-z]{0,2})")', text):
        number = unescape(m.group(1))
        yield (m.group(3).encode() + b"|" + number) if m.group(3) and len(m.group(3)) == 2 else number


def pick(items, keep=lambda b: True):
    seen = []
    for b in items:
        if b and len(b) <= MAX_BYTES and keep(b) and b not in seen:
            seen.append(b)
    return seen[:MAX_SEEDS]


def http_request(b):
    return re.match(rb"(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH) ", b) is not None


def wsfile(records, ws=b"ws_01"):
    """A workspace export (store/wsfile.h) of (table, key, value) records."""
    body = b"BCWSX 1 " + ws + b"\n" + b"".join(
        b"R" + bytes([len(t)]) + t + len(k).to_bytes(4, "big") + k + len(v).to_bytes(4, "big") + v
        for t, k, v in records)
    return body + b"E" + len(records).to_bytes(8, "big") + hashlib.sha256(body).digest()


def main():
    seeds = {
        "phone": pick(phone_seeds()),
        "csv": pick(strings("ingest/csv_test.c"), lambda b: b"\n" in b or b"," in b),
        "multipart": pick(
            [b"multipart/form-data; boundary=XyZ\n" + b for b in strings("ingest/multipart_test.c")
             if b"--XyZ" in b]
            + [ct + b"\n" for ct in strings("ingest/multipart_test.c")
               if ct.lower().startswith(b"multipart/")]
            + [b"multipart/form-data; boundary=XyZ\n--XyZ\r\nContent-Disposition: form-data; "
               b"name=\"agentId\"\r\n\r\nagent_1\r\n--XyZ\r\nContent-Disposition: form-data; "
               b"name=\"file\"; filename=\"c.csv\"\r\nContent-Type: text/csv\r\n\r\n"
               b"phone_number,name\r\n+14155552671,Ann\r\n--XyZ--\r\n"]),
        "http": pick([b"POST /upload HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
           b"POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
           b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
           b"GET /stream HTTP/1.1\r\n\r\nGET /v1/batch-calls/b1?q=%41 HTTP/1.1\r\n\r\n"]
                     + list(strings("http/server_test.c")), http_request),
        "router": [b"\x00/v1/api/batch-calls/batch_1/calls?status=failed&page=2&limit=50",
                   b"\x00/v1/api/batch-calls/batch_1/calls?after=call_20",
                   b"\x01/v1/api/agents", b"\x02/v1/api/agents/agent_1/", b"\x03/v1/api/webhook",
                   b"\x00/v1/api/batch-calls/b/events?lastEventId=12",
                   b"\x01/v1/provider/twilio/status?b=batch_1&r=3&a=1",
                   b"\x00/v1/api/usage?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
                   b"\x04/healthz", b"\x00/v1/api/batch-calls/template?agentId=a%20b+c"],
        "callback": pick([b"b=batch_01&r=1&a=1\n" + b for b in strings("provider/twilio_test.c")
                     if b.startswith(b"CallSid=") or b.startswith(b"AccountSid=")]
        + [b"b=batch_01&r=2&a=1\n" + b for b in strings("provider/http_provider_test.c")
           if b.startswith(b"{")]
        + [b"b=batch_01&r=1&a=1\n{\"callId\":\"c1\",\"status\":\"completed\",\"duration\":9}",
           b"b=x&r=1\n{\"sid\":\"CA1\",\"status\":\"queued\"}",
           b"\n{\"code\":21211,\"message\":\"Invalid 'To' Phone Number\",\"status\":400}"]),
        "agent": [b'{"name":"Reminder bot","prompt":"Hi {first_name}","fromNumber":"+14155552671"}',
                  b'{"name":"Zo\\u00eb","prompt":"{a}{b}{a} {json: 1}","fromNumber":"+447700900123",'
                  b'"voiceUrl":"https://voice.example.com/ws"}',
                  b'{"voiceUrl":null,"prompt":""}', b'{"name":""}',
                  b'{"name":"x","prompt":"p","fromNumber":"+1415555267"}'],
        "workspace": [b'{"workspaceId":"ws_01","name":"Acme","callsPerSecond":10,'
                      b'"maxConcurrentCalls":50,"requestsPerMinute":600,"maxRecords":1000000,'
                      b'"createdAt":1764500000000}',
                      b'{"workspaceId":"ws_02","name":"b","callsPerSecond":0.5,'
                      b'"maxConcurrentCalls":1,"requestsPerMinute":1,"maxRecords":1,"createdAt":0}',
                      # the crash fuzz_workspace found (a count past 2^64)
                      b'{"workspaceId":"ws_02","name":"b","callsPerSecond":0.5,'
                      b'"maxConcurrentCalls":1,"requestsPerMinute":1,"maxRecords":1e30,'
                      b'"createdAt":0}'],
        "webhook": [b'{"url":"https://hooks.example.com/batch"}', b'{"url":null}',
                    b'{"url":"http://127.0.0.1:9/x y"}', b"https://hooks.example.com/a?b=c",
                    b"http:///path"],
        "smart": [b'{"enabled":true,"maxAttempts":3,"gaps":[{"days":0,"hours":4}]}',
                  b'{"enabled":true,"maxAttempts":10,"gaps":[{"days":1},{"hours":0.5},'
                  b'{"days":30,"hours":0}]}',
                  b'{"enabled":false}', b'{"enabled":true,"maxAttempts":1,"gaps":[]}'],
        "cursor": [b"call_1", b"call_20", b"call_4294967295", b"call_4294967296", b"call_01",
                   b"0", b"12", b"4294967293", b"99999999999999999999", b"7abc"],
        "wsfile": [wsfile([]), wsfile([(b"ws", b"ws_01", b"{}")]),
                   wsfile([(b"job", b"batch_01\x00\x00\x00\x01", b"v"), (b"due", b"k", b""),
                           (b"ws", b"ws_01", b'{"workspaceId":"ws_01"}')]),
                   wsfile([(b"agent", b"ws_01/a", b"x")])[:-5], b"BCWSX 2 ws_01\n",
                   b"BCWSX 1 ws_01\nR\x00"],
    }
    for name, items in seeds.items():
        d = os.path.join(OUT, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for b in items:
            with open(os.path.join(d, hashlib.sha1(b).hexdigest()[:16]), "wb") as f:
                f.write(b)
        print(f"{name}: {len(items)} seeds")


if __name__ == "__main__":
    main()
