"""The dashboard's files as the server serves them (src/api/dashboard.c): every file of src/ui
byte for byte with its type, the security headers on every answer, ETag revalidation, JSON 404s
for unknown files, and API paths that never answer HTML. The page's behaviour in a browser is
tested by test/browser (chromium)."""

import os
import re
import unittest

from harness import ServerTestCase, make_workspace, request

HERE = os.path.dirname(os.path.abspath(__file__))
UI = os.path.normpath(os.path.join(HERE, "..", "..", "src", "ui"))

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def ui_files():
    out = []
    for d, _, names in os.walk(UI):
        for n in names:
            out.append(os.path.relpath(os.path.join(d, n), UI).replace(os.sep, "/"))
    return sorted(out)


class DashboardTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def assertSecure(self, reply):
        self.assertEqual(reply.headers["Content-Security-Policy"], CSP)
        self.assertEqual(reply.headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(reply.headers["Referrer-Policy"], "no-referrer")
        self.assertEqual(reply.headers["X-Frame-Options"], "DENY")

    def test_every_file_is_served_as_it_is(self):
        files = ui_files()
        self.assertIn("index.html", files)
        self.assertGreater(len([f for f in files if f.startswith("js/")]), 5)
        for rel in files:
            with self.subTest(file=rel):
                reply = request(self.server, "GET", "/ui/" + rel)
                self.assertEqual(reply.status, 200)
                with open(os.path.join(UI, rel), "rb") as f:
                    self.assertEqual(reply.body, f.read(), "rebuild after editing src/ui")
                self.assertEqual(reply.headers["Content-Type"], TYPES[os.path.splitext(rel)[1]])
                self.assertEqual(reply.headers["Cache-Control"], "no-cache")
                self.assertRegex(reply.headers["ETag"], r'^"[0-9a-f]{20}"$')
                self.assertSecure(reply)

    def test_the_page_is_at_the_root_and_at_ui(self):
        with open(os.path.join(UI, "index.html"), "rb") as f:
            index = f.read()
        for path in ("/", "/ui", "/ui/", "/?next=x"):
            with self.subTest(path=path):
                reply = request(self.server, "GET", path)
                self.assertEqual(reply.status, 200)
                self.assertEqual(reply.body, index)
                self.assertEqual(reply.headers["Content-Type"], "text/html; charset=utf-8")
                self.assertSecure(reply)

    def test_etag_revalidation(self):
        first = request(self.server, "GET", "/ui/js/app.js")
        tag = first.headers["ETag"]
        for inm in (tag, f'"nope", {tag}', "*"):
            with self.subTest(if_none_match=inm):
                again = request(self.server, "GET", "/ui/js/app.js", headers={"If-None-Match": inm})
                self.assertEqual(again.status, 304)
                self.assertEqual(again.body, b"")
                self.assertIsNone(again.headers.get("Content-Length"))
                self.assertEqual(again.headers["ETag"], tag)
                self.assertSecure(again)
        other = request(self.server, "GET", "/ui/js/app.js", headers={"If-None-Match": '"0000"'})
        self.assertEqual(other.status, 200)
        self.assertEqual(other.body, first.body)
        # Each file has its own tag.
        css = request(self.server, "GET", "/ui/app.css", headers={"If-None-Match": tag})
        self.assertEqual(css.status, 200)

    def test_unknown_files_are_json_404s(self):
        for path in ("/ui/nope.js", "/ui/js/nope.js", "/ui/%2e%2e", "/ui/js/app.js.map",
                     "/ui/app.js", "/ui/js/index.html"):
            with self.subTest(path=path):
                reply = request(self.server, "GET", path)
                self.assertError(reply, 404, "not_found")
                self.assertIn("the dashboard is at /", reply.body["message"])
                self.assertSecure(reply)
        # Paths no dashboard route matches get the server's own 404; nothing is read from disk.
        for path in ("/ui/js/x/app.js", "/ui/js/../index.html", "/ui/%2e%2e/README.md",
                     "/ui/JS/app.js", "/index.html"):
            with self.subTest(path=path):
                self.assertError(request(self.server, "GET", path), 404, "not_found")
        self.assertError(request(self.server, "POST", "/"), 405, "method_not_allowed")
        self.assertError(request(self.server, "DELETE", "/ui/app.css"), 405, "method_not_allowed")

    def test_api_paths_never_answer_html(self):
        auth = make_workspace(self.server)
        cases = [("GET", "/v1", None), ("GET", "/v1/", None), ("GET", "/v1/api", auth),
                 ("GET", "/v1/api/nope", auth), ("GET", "/v1/ui/app.css", None),
                 ("POST", "/v1/api/batch-calls/template", auth), ("GET", "/v1/api/agents", None),
                 ("GET", "/v1/api/batch-calls/batch_x", auth)]
        for method, path, who in cases:
            with self.subTest(method=method, path=path):
                reply = request(self.server, method, path, auth=who,
                                headers={"Accept": "text/html"})
                self.assertGreaterEqual(reply.status, 400)
                self.assertTrue(reply.headers["Content-Type"].startswith("application/json"))
                self.assertIsInstance(reply.body, dict)

    def test_no_inline_code_and_no_markup_from_data(self):
        """The CSP forbids inline scripts and styles; this keeps the files honest before a
        browser would refuse them, and keeps data out of markup APIs."""
        with open(os.path.join(UI, "index.html"), encoding="utf-8") as f:
            html = f.read()
        self.assertNotRegex(html, r"<script(?![^>]*\bsrc=)[^>]*>")
        self.assertNotRegex(html, r"<style\b|\sstyle=|\son[a-z]+=|javascript:")
        for rel in ui_files():
            if not rel.endswith(".js"):
                continue
            with self.subTest(file=rel), open(os.path.join(UI, rel), encoding="utf-8") as f:
                js = f.read()
                for bad in (r"\.innerHTML\b", r"\.outerHTML\b", r"insertAdjacentHTML",
                            r"document\.write", r"\beval\(", r"new Function\(",
                            r"setAttribute\(\s*'style'", r"localStorage\.setItem"):
                    self.assertNotRegex(js, bad)


if __name__ == "__main__":
    unittest.main()
