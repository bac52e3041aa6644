"""The client protocol's identity and SID buckets (0.15, step 12), per address (issue #14).

The spec keys the identity bucket on the app and the attempted identity (username, license
key or device id), and the SID bucket on the app and the SID. Keyed that way alone, anyone
guessing a user's password from one address locks that user out from every address for as
long as he keeps guessing. Licentia therefore keys both buckets on the client address too
(`LICENTIA_RATE_IDENTITY`, default 60 per 60 s), and caps each identity and SID over all
addresses with a much higher ceiling (`LICENTIA_RATE_IDENTITY_CEILING`, default 600 per 60 s).
An attempt the per-address bucket refuses takes no ceiling token, so one address cannot drain
the ceiling; it takes ten addresses at full speed to reach it. The answer is the protocol's
429 `RATE_LIMITED` with `Retry-After`, as before. The ceiling applies only while the
identity bucket is on (`LICENTIA_RATE_IDENTITY=0` turns both off).
"""

from __future__ import annotations

from dataclasses import dataclass

from licentia.config import RateSpec
from licentia.domain.codes import Code
from licentia.domain.errors import ProtocolError
from licentia.services.ratelimit import RateLimiter


@dataclass(frozen=True)
class IdentityLimits:
    limiter: RateLimiter
    per_address: RateSpec
    ceiling: RateSpec


async def identity_limit(
    limits: IdentityLimits, app_id: str, ip: str, identity: str, sid: str
) -> None:
    """Take the attempt's tokens; `RATE_LIMITED` (with `retry_after`) when one is refused."""
    if not limits.per_address.enabled:
        return
    keys = [("identity", identity.casefold())]
    if sid:
        keys.append(("sid", sid.casefold()))
    wait = 0
    for bucket, key in keys:
        taken = await limits.limiter.hit(bucket, f"{app_id}:{ip}:{key}", limits.per_address)
        wait = max(wait, taken)
    if not wait and limits.ceiling.enabled:
        for bucket, key in keys:
            taken = await limits.limiter.hit(f"{bucket}-all", f"{app_id}:{key}", limits.ceiling)
            wait = max(wait, taken)
    if wait:
        raise ProtocolError(Code.RATE_LIMITED, retry_after=wait)
