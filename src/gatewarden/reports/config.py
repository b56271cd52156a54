"""Report settings."""

from __future__ import annotations

from pydantic import Field

from gatewarden.settings import Section


class ReportsConfig(Section):
    """`[reports]`."""

    top_n: int = Field(25, ge=1, le=1000, description="Rows in each top list (offenders, ASNs, sequences, rate limits).")
    title: str = Field("gatewarden nightly report", description="Title of the HTML and Markdown reports.")
    support_contact: str = Field(
        "support", description="Who customers should contact, as written in notices (an address, URL or team name)."
    )
