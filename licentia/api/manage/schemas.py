"""Request and response bodies of the management API (OpenAPI models).

Dates leave as UTC `YYYY-MM-DDTHH:MM:SSZ`; `null` means "never" or lifetime. Request bodies
refuse unknown fields (a typo is a 400 naming the field, never silently ignored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from licentia.domain.timeutil import iso_z

UtcTime = Annotated[datetime, PlainSerializer(iso_z, return_type=str, when_used="json")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The bodies of each resource family live in schemas_<family>.py; this module holds what
# they share.


class ReasonIn(Strict):
    reason: str = Field("", description="kept with a ban (at most 500 characters)")
