"""Regions where AWS HealthImaging runs, and region names."""

from __future__ import annotations

import re

from ahiops.limits import HEALTHIMAGING_REGIONS  # ``allowUnlistedRegion`` overrides the list

from ._text import show

#: Shape of a commercial-partition region name, used when an unlisted region is allowed.
_REGION_SHAPE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")


def region_problems(
    setting: str, region: str, allow_unlisted: bool = False, allow_unlisted_setting: str = "allowUnlistedRegion"
) -> list[str]:
    """The region must offer HealthImaging (or be explicitly allowed) and be in the ``aws`` partition."""
    if not isinstance(region, str) or not region:
        return [f"{setting} = {show(region)}: a region is required, for example 'us-east-1'."]
    if region.startswith(("cn-", "us-gov-", "us-iso", "eu-isoe-")):
        return [
            f"{setting} = {show(region)} is outside the commercial 'aws' partition; this program supports "
            "only the 'aws' partition, where HealthImaging runs."
        ]
    if region in HEALTHIMAGING_REGIONS:
        return []
    if allow_unlisted:
        if _REGION_SHAPE.fullmatch(region):
            return []
        return [f"{setting} = {show(region)} does not look like an AWS region name (for example 'us-east-1')."]
    return [
        f"{setting} = {show(region)} is not a region where AWS HealthImaging runs "
        f"({', '.join(HEALTHIMAGING_REGIONS)}). Choose one of those, or, if AWS has since launched "
        f"HealthImaging there, set {allow_unlisted_setting} to true."
    ]
