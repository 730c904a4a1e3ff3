"""docs/openapi.json against the server it describes.

OpenApiDocumentTest reads the document alone: it must be structurally valid OpenAPI 3.0 (every
$ref resolves, every operation has responses, path parameters are declared, examples match their
schemas) and list exactly the routes of src/api/routes.c and the upload fields of
src/ingest/ingest.c.

OpenApiLiveTest starts a server and sends real requests to every route: each JSON answer is
validated against the schema the document declares for that route and status, with the small
JSON-schema validator below (the subset of keywords the document uses; the document test makes
sure it uses no other). Finally GET /openapi.json must serve the file byte for byte.

Batches uploaded for reading use scheduledAt in 2099 so nothing is dialled; one small batch is
dialled by the built-in simulator (sped up) to see completed and failed calls, recent_calls, a
call's result and the live event stream of a finished batch."""

import http.client
import json
import os
import re
import time
import unittest

from harness import (BATCHES, ServerTestCase, make_workspace, post_multipart, request,
                     twilio_signature)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.json")
ROUTES_C = os.path.join(ROOT, "src", "api", "routes.c")
UPLOAD_C = os.path.join(ROOT, "src", "api", "upload.c")  # the form-field names
CMAKELISTS = os.path.join(ROOT, "CMakeLists.txt")

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
HOLD = "2099-01-01T00:00:00Z"
# The built-in simulator signs its callbacks with this token when no Twilio token is configured.
SIM_TOKEN = "simulator-token"
# call()'s default: the test's workspace; auth=None sends no credentials.
WORKSPACE = object()

def load_spec():
    with open(SPEC_PATH, "rb") as f:
        raw = f.read()
    return raw, json.loads(raw)


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def shape(path):
    """A path with every parameter replaced by {}, so /a/:id and /a/{batchId} compare equal."""
    return re.sub(r"\{[^}/]+\}|:[^/]+", "{}", path)


def server_routes():
    """(METHOD, path) of every line {METHOD, "/path", ...} of the route table."""
    return re.findall(r'^\s*\{\s*(GET|PUT|POST|DELETE|PATCH)\s*,\s*"([^"]+)"',
                      read_text(ROUTES_C), re.M)


def spec_operations(spec):
    """(METHOD, path template) of every documented operation."""
    return [(m.upper(), p) for p, item in spec["paths"].items() for m in METHODS if m in item]


# ----- JSON references and the schema validator ------------------------------------------------

def resolve(doc, node):
    """Follows $ref (local JSON pointers only) until node is not a reference."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise KeyError(f"unsupported or circular $ref {ref!r}")
        seen.add(ref)
        target = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise KeyError(f"$ref {ref!r} does not resolve")
            target = target[part]
        node = target
    return node


def walk(node, where="#"):
    """Yields (location, dict) for every object of a JSON document, not descending into
    examples (they are data, not part of the document's structure)."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            if key not in ("example", "examples"):
                yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}/{i}")


def is_integer(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": is_integer,
    "number": is_number,
    "boolean": lambda v: isinstance(v, bool),
}

# Every keyword the validator understands, plus annotations it may ignore. The document test
# rejects any other, so a typo such as "requried" cannot silently switch a check off.
VALIDATED = {"$ref", "type", "nullable", "enum", "required", "properties",
             "additionalProperties", "items", "allOf", "oneOf", "anyOf", "minimum", "maximum",
             "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
             "minItems", "maxItems"}
ANNOTATIONS = {"description", "example", "default", "format", "title", "readOnly", "writeOnly",
               "deprecated"}


def validate(doc, value, schema, where="$"):
    """Returns a list of the ways value breaks schema (empty when it conforms)."""
    schema = resolve(doc, schema)
    if value is None and schema.get("nullable"):
        return []
    errors = []
    for sub in schema.get("allOf", []):
        errors += validate(doc, value, sub, where)
    if "anyOf" in schema and all(validate(doc, value, s, where) for s in schema["anyOf"]):
        errors.append(f"{where}: matches none of anyOf")
    if "oneOf" in schema:
        matches = sum(1 for s in schema["oneOf"] if not validate(doc, value, s, where))
        if matches != 1:
            errors.append(f"{where}: matches {matches} of oneOf, expected exactly 1")
    kind = schema.get("type")
    if kind is not None and not TYPES[kind](value):
        null = " or null" if schema.get("nullable") else ""
        return errors + [f"{where}: expected {kind}{null}, got {json.dumps(value)[:80]}"]
    if "enum" in schema and not any(value == e and type(value) is type(e)
                                    for e in schema["enum"]):
        errors.append(f"{where}: {json.dumps(value)[:80]} is not one of {schema['enum']}")
    if is_number(value):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and (value < low or (schema.get("exclusiveMinimum") and value == low)):
            errors.append(f"{where}: {value} is below the minimum {low}")
        if high is not None and (value > high or
                                 (schema.get("exclusiveMaximum") and value == high)):
            errors.append(f"{where}: {value} is above the maximum {high}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value[:80]!r} does not match {schema['pattern']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(doc, item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: missing required property {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                errors += validate(doc, item, props[name], f"{where}.{name}")
            elif extra is False:
                errors.append(f"{where}: unexpected property {name!r}")
            elif isinstance(extra, dict):
                errors += validate(doc, item, extra, f"{where}.{name}")
    return errors


def media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


# ----- the document alone ----------------------------------------------------------------------

class OpenApiDocumentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.raw, cls.spec = load_spec()

    def operations(self):
        """(METHOD, path, path item, operation) of every documented operation."""
        for path, item in self.spec["paths"].items():
            for method in METHODS:
                if method in item:
                    yield method.upper(), path, item, item[method]

    def test_header_info_servers_and_security_schemes(self):
        spec = self.spec
        self.assertEqual(spec["openapi"], "3.0.3")
        self.assertTrue(spec["info"]["title"])
        version = re.search(r"project\(batchcalld VERSION ([0-9.]+)", read_text(CMAKELISTS))
        self.assertEqual(spec["info"]["version"], version.group(1),
                         "info.version should be the project version of CMakeLists.txt")
        self.assertIn("http://localhost:8080", [s["url"] for s in spec["servers"]])
        schemes = spec["components"]["securitySchemes"]
        self.assertEqual({(s["type"], s["in"], s["name"]) for s in schemes.values()},
                         {("apiKey", "header", "x-api-key"),
                          ("apiKey", "header", "x-workspace-id")})
        # Both headers in one requirement object: both are needed, not either.
        self.assertEqual(spec["security"], [{name: [] for name in schemes}])
        self.assertTrue(self.raw.endswith(b"\n"))

    def test_every_ref_resolves(self):
        refs = [(where, node["$ref"]) for where, node in walk(self.spec) if "$ref" in node]
        self.assertGreater(len(refs), 50)
        for where, ref in refs:
            with self.subTest(where=where):
                resolve(self.spec, {"$ref": ref})

    def test_every_operation_is_complete(self):
        ids = []
        for method, path, item, op in self.operations():
            with self.subTest(op=f"{method} {path}"):
                ids.append(op.get("operationId"))
                self.assertTrue(op.get("operationId"))
                self.assertTrue(op.get("summary"))
                self.assertTrue(op.get("tags"))
                self.assertTrue(op.get("responses"), "no responses")
                for status, response in op["responses"].items():
                    self.assertRegex(status, r"^([1-5][0-9][0-9]|[1-5]XX|default)$")
                    response = resolve(self.spec, response)
                    self.assertTrue(response.get("description"), status)
                    for mtype, media in response.get("content", {}).items():
                        self.assertIn("schema", media, f"{status} {mtype}")
                    if status[0] in "45" or status == "default":
                        self.assertEqual(response["content"]["application/json"]["schema"],
                                         {"$ref": "#/components/schemas/Error"},
                                         f"{status}: errors are always the Error schema")
                for mtype, media in op.get("requestBody", {}).get("content", {}).items():
                    self.assertIn("schema", media, f"request {mtype}")
        self.assertEqual(len(ids), len(set(ids)), "operationIds must be unique")

    def test_path_parameters_are_declared(self):
        for method, path, item, op in self.operations():
            with self.subTest(op=f"{method} {path}"):
                params = [resolve(self.spec, p) for p in item.get("parameters", []) +
                          op.get("parameters", [])]
                declared = {p["name"] for p in params if p["in"] == "path"}
                self.assertEqual(declared, set(re.findall(r"\{([^}]+)\}", path)))
                for p in params:
                    self.assertIn(p["in"], ("path", "query", "header"))
                    self.assertIn("schema", p)
                    if p["in"] == "path":
                        self.assertIs(p.get("required"), True)

    def test_security_by_route(self):
        """API routes need both headers (the global requirement); operations, health and the
        provider callbacks (signed) need none."""
        for method, path, item, op in self.operations():
            with self.subTest(op=f"{method} {path}"):
                if path.startswith("/v1/api/"):
                    self.assertNotIn("security", op)
                    self.assertIn("401", op["responses"])
                    self.assertIn("429", op["responses"])
                else:
                    self.assertEqual(op.get("security"), [])
                    self.assertNotIn("401", op["responses"])

    def test_schemas_use_only_validated_keywords(self):
        """Every keyword of every schema is one the validator below checks (or an annotation),
        so what the live test validates is what the document says."""
        schema_nodes = []
        for where, node in walk(self.spec):
            for key in ("schema", "items", "additionalProperties"):
                if isinstance(node.get(key), dict):
                    schema_nodes.append((f"{where}/{key}", node[key]))
            for key in ("allOf", "oneOf", "anyOf"):
                subs = node.get(key)
                if isinstance(subs, list):
                    schema_nodes += [(f"{where}/{key}/{i}", s) for i, s in enumerate(subs)]
            if where.endswith("/properties") or where == "#/components/schemas":
                schema_nodes += [(f"{where}/{k}", v) for k, v in node.items()]
        self.assertGreater(len(schema_nodes), 100)
        for where, node in schema_nodes:
            with self.subTest(where=where):
                unknown = set(node) - VALIDATED - ANNOTATIONS
                self.assertFalse(unknown, f"keywords the validator does not check: {unknown}")
                if "type" in node:
                    self.assertIn(node["type"], TYPES)

    def test_examples_match_their_schemas(self):
        checked = 0
        for where, node in walk(self.spec):
            if "example" not in node:
                continue
            if "schema" in node:
                schema = node["schema"]
            elif "type" in node or "allOf" in node or "properties" in node:
                schema = node
            else:
                continue
            with self.subTest(where=where):
                self.assertEqual(validate(self.spec, node["example"], schema), [])
                checked += 1
        self.assertGreater(checked, 10)

    def test_every_route_of_the_server_is_documented(self):
        documented = {(m, shape(p)) for m, p in spec_operations(self.spec)}
        missing = [f"{m} {p}" for m, p in server_routes() if (m, shape(p)) not in documented]
        self.assertEqual(missing, [], "routes of src/api/routes.c missing from docs/openapi.json")

    def test_every_documented_route_is_served(self):
        served = {(m, shape(p)) for m, p in server_routes()}
        absent = [(m, p) for m, p in spec_operations(self.spec) if (m, shape(p)) not in served]
        self.assertEqual([f"{m} {p}" for m, p in absent], [],
                         "documented in docs/openapi.json but not in src/api/routes.c")

    def test_upload_form_lists_every_field_the_server_reads(self):
        fields = set(re.findall(r'\[FIELD_[A-Z_]+\]\s*=\s*"(\w+)"', read_text(UPLOAD_C)))
        self.assertGreater(len(fields), 5)
        schemas = self.spec["components"]["schemas"]
        for form in ("UploadForm", "ValidateForm"):
            with self.subTest(form=form):
                self.assertEqual(set(schemas[form]["properties"]), fields | {"file"})
        upload = self.spec["paths"]["/v1/api/batch-calls"]["post"]
        self.assertIn("curl", upload["description"])
        self.assertIn("/v1/batch-calls", self.spec["paths"]["/v1/api/batch-calls"]["description"])


# ----- the document against a running server ---------------------------------------------------

def sse_events(data):
    """Parses an event stream into [(event, id, parsed data)], skipping comments and retry."""
    events = []
    for block in data.decode("utf-8").split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
        if "event" in fields:
            events.append((fields["event"], int(fields["id"]), json.loads(fields["data"])))
    return events


def read_stream(server, path, auth, headers=None, timeout=20):
    """GETs a response that ends on its own (an event stream of a final batch) whole."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        all_headers = {"x-workspace-id": auth[0], "x-api-key": auth[1], **(headers or {})}
        conn.request("GET", path, headers=all_headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


class OpenApiLiveTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.raw, cls.spec = load_spec()
        cls.server = cls.start_class_server("--sim-speed", "1000", "--busy-attempts", "1",
                                            "--provider-cps", "0")
        cls.routes = {(m, shape(p)) for m, p in server_routes()}

    def setUp(self):
        self.exercised = set()

    def wired(self, method, template):
        return (method, shape(template)) in self.routes

    def check(self, reply, method, template, status):
        """Asserts the status, then validates the body against what the document declares for
        this operation and status. Returns the body."""
        self.assertEqual(reply.status, status, f"{method} {template}: {reply.body!r}"[:2000])
        op = self.spec["paths"][template][method.lower()]
        self.assertIn(str(status), op["responses"],
                      f"{method} {template} answered {status}, which the document does not list")
        response = resolve(self.spec, op["responses"][str(status)])
        self.exercised.add((method, template))
        content = response.get("content", {})
        if not content:
            return reply.body
        mtype = media_type(reply.headers.get("Content-Type"))
        self.assertIn(mtype, content, f"{method} {template} {status}: undocumented {mtype}")
        if mtype == "application/json":
            errors = validate(self.spec, reply.body, content[mtype]["schema"])
            self.assertEqual(errors, [], f"{method} {template} {status}: {reply.body!r}"[:3000])
        return reply.body

    def call(self, method, path, template, status, body=None, auth=WORKSPACE, headers=None):
        reply = request(self.server, method, path, body, headers=headers,
                        auth=self.auth if auth is WORKSPACE else auth)
        return self.check(reply, method, template, status)

    def upload(self, path, template, status, parts, headers=None):
        reply = post_multipart(self.server, path, parts, auth=self.auth, headers=headers)
        self.check(reply, "POST", template, status)
        return reply

    def test_responses_match_the_document(self):
        self.auth = make_workspace(self.server, requests_per_minute=100000)
        steps = [self.operations, self.authentication, self.agents, self.uploads, self.reads,
                 self.controls, self.usage, self.callbacks, self.webhooks, self.dialled_batch,
                 self.openapi]
        for step in steps:
            with self.subTest(step=step.__name__):
                step()
        documented = {(m, p) for m, p in spec_operations(self.spec) if self.wired(m, p)}
        self.assertEqual(sorted(documented - self.exercised), [],
                         "documented operations the test never exercised")

    # -- steps --

    def operations(self):
        for path in ("/healthz", "/readyz", "/metrics"):
            self.call("GET", path, path, 200, auth=None)

    def authentication(self):
        agents = "/v1/api/agents"
        self.call("GET", agents, agents, 401, auth=None)
        self.call("GET", agents, agents, 401, auth=(self.auth[0], "bck_" + "0" * 48))
        slow = make_workspace(self.server, requests_per_minute=1)
        self.call("GET", agents, agents, 200, auth=slow)
        body = self.call("GET", agents, agents, 429, auth=slow)
        self.assertGreaterEqual(body["retryAfter"], 1)

    def agents(self):
        base, one = "/v1/api/agents", "/v1/api/agents/{agentId}"
        agent = self.call("POST", base, base, 201,
                          {"name": "Spec", "prompt": "Hi {first_name}, {plan} is due.",
                           "fromNumber": "+14155552671"})
        self.agent_id = agent["id"]
        self.call("POST", base, base, 400, {"name": "x", "prompt": "y", "fromNumber": "555"})
        self.call("POST", base, base, 400, "{not json")
        self.call("GET", base, base, 200)
        self.call("GET", base + "?limit=0", base, 400)
        self.call("GET", f"{base}/{self.agent_id}", one, 200)
        self.call("PUT", f"{base}/{self.agent_id}", one, 200,
                  {"voiceUrl": "https://voice.example.com/stream"})
        self.call("PUT", f"{base}/agent_unknown", one, 404, {"name": "z"})
        gone = self.call("POST", base, base, 201,
                         {"name": "Gone", "prompt": "Bye", "fromNumber": "+14155552671"})
        self.call("DELETE", f"{base}/{gone['id']}", one, 200)
        self.call("GET", f"{base}/{gone['id']}", one, 404)
        self.call("DELETE", f"{base}/{gone['id']}", one, 404)

    def contacts(self):
        return ("phone_number,first_name,plan\n"
                "+14155550142,Ada,gold\n"
                "+14155550143,Grace,silver\n"
                "12345,Broken,none\n"
                "+14155550142,Again,gold\n"
                "+14155550144,Alan,=SUM(A1)\n").encode("utf-8")

    def uploads(self):
        up, val = BATCHES, BATCHES + "/validate"
        tpl = BATCHES + "/template"
        parts = [("agentId", self.agent_id), ("scheduledAt", HOLD), ("name", "spec"),
                 ("file", ("contacts.csv", self.contacts()))]
        first = self.upload(up, up, 201, parts, headers={"Idempotency-Key": "spec-1"})
        self.batch_id = first.body["batchId"]
        self.assertEqual(len(first.body["errors"]), 2, first.body)
        replay = self.upload(up, up, 201, parts, headers={"Idempotency-Key": "spec-1"})
        self.assertEqual(replay.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(replay.body["batchId"], self.batch_id)
        self.upload(up, up, 400, [("scheduledAt", HOLD), ("file", ("c.csv", self.contacts()))])
        self.upload(up, up, 400, [("agentId", self.agent_id), ("scheduledAt", "tomorrow"),
                                  ("file", ("c.csv", self.contacts()))])
        self.upload(up, up, 400, [("agentId", self.agent_id)])
        self.upload(up, up, 404, [("agentId", "agent_unknown"), ("file", ("c.csv", b"x"))])
        rejected = self.upload(up, up, 422, [("agentId", self.agent_id), ("scheduledAt", HOLD),
                                             ("file", ("c.csv", b"phone_number\n123\n"))])
        self.assertEqual(rejected.body["error"], "no_valid_rows")
        self.upload(up, up, 422, [("agentId", self.agent_id), ("scheduledAt", HOLD),
                                  ("strict", "true"), ("file", ("c.csv", self.contacts()))])
        self.upload(up, up, 422, [("agentId", self.agent_id),
                                  ("file", ("c.csv", b"first_name\nAda\n"))])
        self.call("POST", up, up, 415, {"agentId": self.agent_id})

        checked = self.upload(val, val, 200, [("agentId", self.agent_id),
                                              ("file", ("c.csv", self.contacts()))]).body
        self.assertEqual(checked["invalidRows"], 1, checked)
        self.upload(val, val, 200, [("file", ("c.csv", b"phone_number;x\n+14155550142;1\n"))])
        self.upload(val, val, 400, [("agentId", self.agent_id)])
        self.upload(val, val, 404, [("agentId", "agent_unknown")])
        self.upload(val, val, 422, [("file", ("c.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"))])

        csv = request(self.server, "GET", f"{tpl}?agentId={self.agent_id}", auth=self.auth)
        self.check(csv, "GET", tpl, 200)
        self.assertTrue(csv.body.startswith(b"phone_number,first_name,last_name,email,plan\r\n"))
        self.call("GET", tpl, tpl, 200)
        self.call("GET", f"{tpl}?agentId=agent_unknown", tpl, 404)

    def reads(self):
        one, calls = BATCHES + "/{batchId}", BATCHES + "/{batchId}/calls"
        call = calls + "/{jobId}"
        path = f"{BATCHES}/{self.batch_id}"
        a2 = self.call("GET", path, one, 200)
        self.assertEqual((a2["status"], a2["totalCalls"]), ("queued", 5))
        self.call("GET", path + "/status", one + "/status", 200)
        self.call("GET", f"{BATCHES}/batch_unknown", one, 404)
        self.call("GET", f"{BATCHES}/batch_unknown/status", one + "/status", 404)
        listed = self.call("GET", BATCHES + "?status=queued&limit=5", BATCHES, 200)
        self.assertIn(self.batch_id, [b["id"] for b in listed["batches"]])
        self.call("GET", BATCHES + "?status=nope", BATCHES, 400)

        page = self.call("GET", path + "/calls?limit=2", calls, 200)
        self.assertEqual(page["pagination"]["nextCursor"], "call_2")
        cursor = self.call("GET", path + "/calls?limit=2&after=call_2", calls, 200)
        self.assertEqual([c["jobId"] for c in cursor["calls"]], ["call_3", "call_4"])
        self.call("GET", path + "/calls?status=failed", calls, 200)
        self.call("GET", path + "/calls?status=nope", calls, 400)
        self.call("GET", path + "/calls?after=row_2", calls, 400)
        self.call("GET", f"{BATCHES}/batch_unknown/calls", calls, 404)
        self.call("GET", path + "/calls/call_1", call, 200)
        self.call("GET", path + "/calls/call_3", call, 200)
        missing = self.call("GET", path + "/calls/call_99", call, 404)
        self.assertEqual(missing["status"], "not_found")

        export = request(self.server, "GET", path + "/export", auth=self.auth)
        self.check(export, "GET", one + "/export", 200)
        self.assertIn(b"job_id,status,outcome,attempts,duration,error,start_time,end_time",
                      export.body)
        self.call("GET", f"{BATCHES}/batch_unknown/export", one + "/export", 404)
        self.call("GET", f"{BATCHES}/batch_unknown/events", one + "/events", 404)

        # The alias prefix answers the same documents.
        alias = request(self.server, "GET", f"/v1/batch-calls/{self.batch_id}", auth=self.auth)
        self.check(alias, "GET", one, 200)

    def controls(self):
        one = BATCHES + "/{batchId}"
        path = f"{BATCHES}/{self.batch_id}"
        paused = self.call("POST", path + "/pause", one + "/pause", 200)
        self.assertIs(paused["paused"], True)
        self.call("POST", path + "/resume", one + "/resume", 200)
        cancelled = self.call("DELETE", path, one, 200)
        self.assertEqual(cancelled["details"]["cancelledCalls"], 3, cancelled)
        self.assertEqual(self.call("DELETE", path, one, 200), cancelled)
        self.call("POST", path + "/pause", one + "/pause", 409)
        self.call("POST", path + "/resume", one + "/resume", 409)
        self.call("POST", path + "/retry", one + "/retry", 409)
        for action in ("pause", "resume", "retry"):
            self.call("POST", f"{BATCHES}/batch_unknown/{action}", f"{one}/{action}", 404)
        self.call("DELETE", f"{BATCHES}/batch_unknown", one, 404)
        a2 = self.call("GET", path, one, 200)
        self.assertEqual(a2["status"], "cancelled")

    def usage(self):
        usage = "/v1/api/usage"
        self.call("GET", usage, usage, 200)
        self.call("GET", usage + "?from=0&to=4102444800000", usage, 200)
        self.call("GET", usage + "?from=yesterday", usage, 400)

    def callbacks(self):
        twilio, generic = "/v1/provider/twilio/status", "/v1/provider/http/status"
        form = "CallSid=CA1&CallStatus=completed"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self.call("POST", twilio, twilio, 403, form, auth=None, headers=headers)
        # Signed, but the URL lacks the batch, row and attempt it reports on.
        signature = twilio_signature(SIM_TOKEN, f"http://127.0.0.1:{self.server.port}{twilio}",
                                     [("CallSid", "CA1"), ("CallStatus", "completed")])
        self.call("POST", twilio, twilio, 400, form, auth=None,
                  headers={**headers, "X-Twilio-Signature": signature})
        self.call("POST", generic, generic, 403, {"callId": "x", "status": "completed"}, auth=None)
        # The form handed out now, with the workspace in the path (docs/fleet.md).
        ws = self.auth[0]
        for dialect, body, kind in (("twilio", form, headers), ("http", {"callId": "x"}, {})):
            self.call("POST", f"/v1/provider/ws/{ws}/{dialect}/status",
                      f"/v1/provider/ws/{{ws}}/{dialect}/status", 403, body, auth=None,
                      headers=kind)

    def webhooks(self):
        hook, deliveries = "/v1/api/webhook", "/v1/api/webhook/deliveries"
        self.call("GET", hook, hook, 404)
        self.call("PUT", hook, hook, 400, {"url": "ftp://example.com"})
        created = self.call("PUT", hook, hook, 200, {"url": "https://hooks.example.com/in"})
        got = self.call("GET", hook, hook, 200)
        self.assertEqual(got["secretHint"], created["secret"][-4:])
        self.call("PUT", hook, hook, 200, {"url": None})
        self.call("GET", deliveries, deliveries, 200)
        self.call("GET", deliveries + "?page=0", deliveries, 400)
        self.call("DELETE", hook, hook, 200)
        self.call("DELETE", hook, hook, 404)

    def dialled_batch(self):
        """A batch the simulator dials at once: answered, busy, voicemail and unreachable calls
        (numbers ending 42, 00, 04, 02), so completed and failed shapes are seen."""
        one = BATCHES + "/{batchId}"
        data = (b"phone_number,first_name\n+14155550142,Ada\n+14155550100,Busy\n"
                b"+14155550104,Machine\n+14155550102,Gone\n")
        created = self.upload(BATCHES, BATCHES, 201,
                              [("agentId", self.agent_id), ("file", ("c.csv", data))])
        path = f"{BATCHES}/{created.body['batchId']}"
        deadline = time.monotonic() + 60
        while True:
            a2 = self.call("GET", path, one, 200)
            if a2["isComplete"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(a2["status"], "completed", a2)
        self.assertEqual(len(a2["progress"]["recent_calls"]), 4, a2)
        self.call("GET", path + "/status", one + "/status", 200)
        self.call("GET", path + "/calls", one + "/calls", 200)
        answered = self.call("GET", path + "/calls/call_1", one + "/calls/{jobId}", 200)
        self.assertEqual(answered["result"]["outcome"], "answered", answered)
        self.call("GET", path + "/calls/call_3", one + "/calls/{jobId}", 200)
        self.call("DELETE", path, one, 409)
        self.call("POST", path + "/retry", one + "/retry", 202)
        self.wait_complete(path)

        status, headers, body = read_stream(self.server, path + "/events", self.auth)
        self.check_events(status, headers, body, {"progress", "done"})
        status, headers, body = read_stream(self.server, path + "/events", self.auth,
                                            headers={"Last-Event-ID": "0"})
        self.check_events(status, headers, body, {"call", "progress", "done"})

    def wait_complete(self, path):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if request(self.server, "GET", path, auth=self.auth).body["isComplete"]:
                return
            time.sleep(0.05)
        self.fail(f"{path} did not complete again after the retry")

    def check_events(self, status, headers, body, expected):
        self.assertEqual(status, 200, body)
        self.assertEqual(media_type(headers.get("Content-Type")), "text/event-stream")
        self.exercised.add(("GET", BATCHES + "/{batchId}/events"))
        schemas = {"progress": "ProgressEvent", "call": "Call", "done": "DoneEvent"}
        events = sse_events(body)
        self.assertEqual({e[0] for e in events}, expected, body)
        for event, _, data in events:
            schema = {"$ref": f"#/components/schemas/{schemas[event]}"}
            self.assertEqual(validate(self.spec, data, schema), [], f"{event}: {data}")

    def openapi(self):
        self.call("GET", "/openapi.json", "/openapi.json", 200, auth=None)

    def test_openapi_json_is_the_file(self):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        try:
            conn.request("GET", "/openapi.json")
            resp = conn.getresponse()
            served = resp.read()
        finally:
            conn.close()
        self.assertEqual(resp.status, 200, served[:300])
        self.assertEqual(media_type(resp.getheader("Content-Type")), "application/json")
        self.assertEqual(served, self.raw, "the server embeds a different docs/openapi.json; "
                                           "rebuild after editing the file")

if __name__ == "__main__":
    unittest.main()
