"""Times as the CLI shows them: in the deployment's time zone (``GET /v1/display``,
``Settings.timezone``), to the minute, labelled — ``2026-12-05 14:03（北京时间）`` —
the same as the console and the printed forms. The service sends UTC (RFC 3339)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clients.sdk import NotaryAPIError
from transfer.workflow.times import labelled, local_date, local_minutes, zone_label

DEFAULT_ZONE = "Asia/Shanghai"


class Times:
    """Formats instants in one zone; ``zone`` defaults to the deployment's default."""

    def __init__(self, zone: str = DEFAULT_ZONE) -> None:
        self.zone = zone

    @classmethod
    def of(cls, client: Any) -> Times:
        """The zone the service is configured with (a service without ``/v1/display``,
        older than the setting, shows Beijing time like before)."""
        try:
            return cls(str(client.display()["timezone"]))
        except (NotaryAPIError, KeyError, TypeError, ValueError):
            return cls()

    @property
    def label(self) -> str:
        """北京时间 (or UTC+hh:mm): for a table column whose cells are :meth:`minutes`."""
        return zone_label(self.zone)

    def minutes(self, value: Any) -> str:
        """``2026-12-05 14:03`` without the label: in a column headed with :attr:`label`."""
        if value is None or value == "":
            return "—"
        moment = _instant(value)
        return str(value) if moment is None else local_minutes(moment, self.zone)

    def time(self, value: Any) -> str:
        """``2026-12-05 14:03（北京时间）``; ``—`` for nothing; text that is not a time as is."""
        if value is None or value == "":
            return "—"
        moment = _instant(value)
        return str(value) if moment is None else labelled(moment, self.zone)

    def date(self, value: Any) -> str:
        """``2026-12-05``: the calendar day of an instant in the zone."""
        if value is None or value == "":
            return "—"
        moment = _instant(value)
        return str(value) if moment is None else local_date(moment, self.zone)


def _instant(value: Any) -> datetime | None:
    """The instant ``value`` names (ISO 8601 text, a datetime, epoch s or ms); None if none."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
