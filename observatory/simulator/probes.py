"""Each simulated region's health URL, ``/<region>/healthz``: 200 while it is up, 503 in an outage."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from observatory.simulator.world import World


class ProbeServer:
    def __init__(self, world: World, wall_start: float, host: str = "127.0.0.1", port: int = 0):
        self.world, self.wall_start = world, wall_start
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or parts[1] != "healthz" or parts[0] not in owner.world.regions:
                    self.send_response(404)
                    self.end_headers()
                    return
                up = owner.world.up(parts[0], time.time() - owner.wall_start)
                body = b"ok\n" if up else b"region down (simulated outage)\n"
                self.send_response(200 if up else 503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, region: str) -> str:
        return f"{self.base_url}/{region}/healthz"

    def start(self) -> "ProbeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
