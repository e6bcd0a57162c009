"""The service's Prometheus metrics: a registry per app (so tests and several apps
never collide); the HTTP layer counts its requests on it too."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from transfer.services.health import anchoring_status

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


class AnchoringCollector(Collector):
    """Anchoring lag and pending checkpoints, read from the database at scrape time
    (so every instance reports the shared truth, not only the anchoring one)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self._sessions() as s:
                status = anchoring_status(s)
        except Exception:  # a scrape must not fail because the database blinked
            return
        yield GaugeMetricFamily(
            "notary_anchoring_lag_seconds",
            "Age of the oldest checkpoint not yet anchored (0 when none is pending).",
            value=status["lag_s"],
        )
        yield GaugeMetricFamily(
            "notary_pending_checkpoints",
            "Signed checkpoints waiting to be anchored.",
            value=status["pending_checkpoints"],
        )
        yield GaugeMetricFamily("notary_log_size", "Entries in the log.", value=status["log_size"])
        yield GaugeMetricFamily(
            "notary_anchored_tree_size",
            "Tree size of the latest anchored checkpoint.",
            value=status["anchored_tree_size"],
        )
