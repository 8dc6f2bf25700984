"""A small OTLP/HTTP receiver on 127.0.0.1 for the exporter tests: it keeps every request body by path."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class OtlpReceiver:
    """The requests received so far, decoded; ``arrived`` is set on every request."""

    def __init__(self, port: int) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"
        self.bodies: list[tuple[str, bytes]] = []
        self.arrived = threading.Condition()

    def add(self, path: str, body: bytes) -> None:
        with self.arrived:
            self.bodies.append((path, body))
            self.arrived.notify_all()

    def spans(self) -> list[tuple[str, bytes]]:
        """(name, trace id) of every span received."""
        found: list[tuple[str, bytes]] = []
        for path, body in list(self.bodies):
            if path == "/v1/traces":
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        found.extend((span.name, span.trace_id) for span in scope.spans)
        return found

    def metric_names(self) -> set[str]:
        names: set[str] = set()
        for path, body in list(self.bodies):
            if path == "/v1/metrics":
                request = ExportMetricsServiceRequest.FromString(body)
                for resource in request.resource_metrics:
                    for scope in resource.scope_metrics:
                        names.update(metric.name for metric in scope.metrics)
        return names

    def wait_for(self, predicate: object, seconds: float = 10.0) -> None:
        """Block until ``predicate()`` holds (re-checked on each request), or fail."""
        assert callable(predicate)
        with self.arrived:
            if not self.arrived.wait_for(predicate, timeout=seconds):
                raise AssertionError(f"the OTLP receiver did not get what was expected in {seconds:g}s")


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Serve OTLP/HTTP (protobuf) on a free loopback port for the block."""
    holder: list[OtlpReceiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            holder[0].add(self.path, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(OtlpReceiver(server.server_port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
