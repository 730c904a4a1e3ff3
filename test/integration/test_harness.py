"""Self-tests of the parsers in harness.py. The integration tests trust these parsers to reject
malformed server output, so they are checked here without starting a server."""

import unittest

from harness import MetricsFormatError, chunked, parse_metrics, parse_responses, raw_request

GOOD_METRICS = """# HELP req_total Requests served.\\nSecond line with a \\\\ backslash.
# TYPE req_total counter
req_total{route="/v1/api/agents",status="200"} 3
req_total{route="a \\"quoted\\" \\\\ path\\nnext",status="404",} 1 1700000000000
# a free comment
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 1
lat_seconds_bucket{le="1"} 3
lat_seconds_bucket{le="+Inf"} 4
lat_seconds_sum 2.5
lat_seconds_count 4
# TYPE open gauge
open 2

untyped_thing NaN
neg -Inf
"""


class MetricsParserTest(unittest.TestCase):
    def test_parses_a_valid_exposition(self):
        m = parse_metrics(GOOD_METRICS)
        self.assertEqual(m.families["req_total"].type, "counter")
        self.assertEqual(m.families["req_total"].help,
                         "Requests served.\nSecond line with a \\ backslash.")
        self.assertEqual(m.value("req_total"), 4)
        self.assertEqual(m.value("req_total", status="200"), 3)
        quoted = m.samples("req_total", status="404")[0]
        self.assertEqual(quoted.labels["route"], 'a "quoted" \\ path\nnext')
        self.assertEqual(m.family_of("lat_seconds_bucket"), "lat_seconds")
        self.assertEqual(m.value("lat_seconds_bucket", le="+Inf"), 4)
        self.assertEqual(m.value("lat_seconds_count"), 4)
        self.assertEqual(m.value("open"), 2)
        self.assertIsNone(m.families["untyped_thing"].type)
        self.assertEqual(parse_metrics("").families, {})

    def test_rejects_malformed_expositions(self):
        cases = {
            "no final newline": "a 1",
            "bad name": "1a 1\n",
            "missing value": "a\n",
            "no space before value": 'a{x="1"}1\n',
            "bad value": "a one\n",
            "python-only float": "a 1_0\n",
            "extra field": "a 1 2 3\n",
            "bad timestamp": "a 1 1.5\n",
            "unterminated label": 'a{x="1} 1\n',
            "unquoted label": "a{x=1} 1\n",
            "bad escape": 'a{x="\\t"} 1\n',
            "duplicate label": 'a{x="1",x="2"} 1\n',
            "duplicate series": 'a{x="1"} 1\na{x="1"} 2\n',
            "bad type": "# TYPE a countr\na 1\n",
            "type after sample": "a 1\n# TYPE a counter\n",
            "second help": "# HELP a x\n# HELP a y\na 1\n",
            "not contiguous": "a 1\nb 1\na{x=\"1\"} 2\n",
            "negative counter": "# TYPE a counter\na -1\n",
            "histogram without +Inf": '# TYPE h histogram\nh_bucket{le="1"} 1\n'
                                      'h_sum 1\nh_count 1\n',
            "histogram not cumulative": '# TYPE h histogram\nh_bucket{le="1"} 2\n'
                                        'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
            "histogram count mismatch": '# TYPE h histogram\nh_bucket{le="+Inf"} 1\n'
                                        'h_sum 1\nh_count 2\n',
            "histogram bare sample": '# TYPE h histogram\nh 1\n',
            "malformed HELP": "# HELP\n",
        }
        for name, text in cases.items():
            with self.subTest(name):
                with self.assertRaises(MetricsFormatError):
                    parse_metrics(text)


class ResponseParserTest(unittest.TestCase):
    def test_sequence_with_every_framing(self):
        data = (b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
                b"HTTP/1.1 204 No Content\r\n\r\n"
                b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nuntil eof")
        responses, rest = parse_responses(data)
        self.assertEqual([r.status for r in responses], [100, 200, 200, 204])
        self.assertEqual(responses[1].body, b"ok")
        self.assertEqual(responses[2].body, b"abcde")
        self.assertTrue(rest.startswith(b"HTTP/1.0"))
        last, rest = parse_responses(rest, eof=True)
        self.assertEqual(last[0].body, b"until eof")
        self.assertEqual(rest, b"")

    def test_incomplete_input_waits_for_more(self):
        whole = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        for cut in range(len(whole)):
            self.assertEqual(parse_responses(whole[:cut])[0], [], cut)
        self.assertEqual(len(parse_responses(whole)[0]), 1)

    def test_rejects_malformed_responses(self):
        cases = [b"HTTP/2 200 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                 b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
                 b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                 b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]
        for data in cases:
            with self.subTest(data):
                with self.assertRaises(ValueError):
                    parse_responses(data, eof=True)

    def test_request_builders(self):
        self.assertEqual(raw_request("POST", "/x", [("A", "b")], b"hi"),
                         b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nA: b\r\n"
                         b"Content-Length: 2\r\n\r\nhi")
        self.assertEqual(chunked(b"abc", b"x" * 16), b"3\r\nabc\r\n10\r\n" + b"x" * 16 +
                         b"\r\n0\r\n\r\n")


if __name__ == "__main__":
    unittest.main()
