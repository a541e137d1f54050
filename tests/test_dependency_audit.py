"""The dependency audit of .ci/run (tools/audit_deps.py, issue 18): fails on a known vulnerability in a
runtime dependency, and warns — without failing — when no vulnerability service can be reached.
A local HTTP server stands in for OSV's API (this machine reaches neither OSV nor PyPI's JSON API)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parent.parent / "tools" / "audit_deps.py"


def osv_answer(vulnerable: dict[str, str]):
    """An OSV /v1/query handler: a made-up advisory for each package named in ``vulnerable``."""
    class Handler(BaseHTTPRequestHandler):
        asked: list = []

        def do_POST(self):  # noqa: N802 - the http.server API
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name = query["package"]["name"]
            Handler.asked.append(name)
            body = {}
            if name in vulnerable:
                body = {"vulns": [{"id": vulnerable[name], "summary": "made up for the test", "affected": [
                    {"package": {"name": name, "ecosystem": "PyPI"},
                     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "999.0"}]}]}]}]}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def osv():
    servers = []

    def start(vulnerable):
        handler = osv_answer(vulnerable)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1/query", handler.asked

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def audit(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(AUDIT), "--service", "osv", "--timeout", "5", *args],
                          capture_output=True, text=True, timeout=300)


def test_a_known_vulnerability_in_a_runtime_dependency_fails_the_audit(osv):
    url, asked = osv({"click": "GHSA-kq00-test-0001"})
    r = audit("--osv-url", url)
    assert r.returncode == 1, r.stderr
    assert "click" in r.stdout and "GHSA-kq00-test-0001" in r.stdout and "fixed in 999.0" in r.stdout
    assert {"click", "sqlite-utils", "xlsxwriter"} <= set(asked)        # the runtime set was asked about
    assert not {"pytest", "hypothesis", "pip-audit"} & set(asked)        # test tools are not runtime


def test_no_known_vulnerability_passes(osv):
    url, _ = osv({"pytest": "GHSA-kq00-test-0002"})                     # a test tool only: not audited
    r = audit("--osv-url", url)
    assert r.returncode == 0 and "no known vulnerabilities in" in r.stderr, r.stderr


def test_an_unreachable_service_warns_and_does_not_fail():
    with socket.socket() as s:                                           # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = audit("--osv-url", f"http://127.0.0.1:{port}/v1/query")
    assert r.returncode == 0, r.stderr
    assert "warning: dependency audit NOT done" in r.stderr and "Traceback" not in r.stderr
