"""The service's Prometheus metrics: a registry per app (so tests and several apps
never collide); the HTTP layer counts its requests on it too."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Latency buckets around the verify-API goal (p99 <= 50 ms), plus upload-sized tails.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)


class Metrics:
    """The app's metrics; other parts register their own on ``registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "notary_http_requests",
            "HTTP requests by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "notary_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.uploads = Counter(
            "notary_uploads", "Materials registered (acknowledged uploads).", registry=self.registry
        )
        self.upload_bytes = Counter(
            "notary_upload_bytes",
            "Plaintext bytes of registered materials.",
            registry=self.registry,
        )
        self.content_reads = Counter(
            "notary_content_reads", "Verified content reads (利用登记).", registry=self.registry
        )
        self.verify_failures = Counter(
            "notary_verify_failures",
            "Failed verifications by where they happened and the failed check.",
            ("during", "check"),
            registry=self.registry,
        )
