"""A real webhook receiver process for tests: verifies Standard Webhooks signatures.

    python tests/webhook_receiver.py PORT SECRET

POST /<anything>      a webhook: verified, recorded, answered with the scripted status
GET  /received        JSON list of every webhook received: id, path, verified, body, at
POST /script          JSON {"statuses": [503, 503], "retry_after": 2, "hold_seconds": [20]}: answers for
                      the next webhooks (then 200 again), and how long to hold each before answering
                      (it is recorded on arrival, so a test sees a sender that dies mid-request)
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

_lock = threading.Lock()
_received: list[dict] = []
_script: dict = {"statuses": [], "retry_after": None, "hold_seconds": []}


class Handler(BaseHTTPRequestHandler):
    secret = ""

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/received":
            with _lock:
                payload = json.dumps(_received).encode()
            self._reply(200, payload, {"Content-Type": "application/json"})
        else:
            self._reply(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/script":
            with _lock:
                _script.update(json.loads(body))
            self._reply(204)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        with _lock:
            status = _script["statuses"].pop(0) if _script["statuses"] else 200
            retry_after = _script.get("retry_after")
            hold = _script["hold_seconds"].pop(0) if _script.get("hold_seconds") else 0
            _received.append({"id": headers.get("webhook-id"), "path": self.path, "verified": verified,
                              "status": status, "at": time.time(),
                              "body": json.loads(body) if body else None})
        time.sleep(hold)
        self._reply(status if verified else 401, b"{}", {"Retry-After": str(retry_after)} if retry_after else {})


if __name__ == "__main__":
    port, Handler.secret = int(sys.argv[1]), sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
