"""The ``hubspot`` source's settings: checked by ``kpireport validate``, before any call."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from kpireport import SourceSettings

LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                    "opportunity", "customer", "evangelist", "other")
"""HubSpot's built-in lifecycle stages (a custom stage is known by its numeric id)."""

PROPERTY_NAME = r"^[a-z0-9_]+$"
"""HubSpot's internal property names: lower case, digits and underscores."""
STAGE_ID = r"^[A-Za-z0-9_-]+$"
"""Pipeline and deal stage ids: ``default``, ``closedwon``, or numeric ids of custom ones."""

PropertyName = Annotated[str, Field(pattern=PROPERTY_NAME)]
StageId = Annotated[str, Field(pattern=STAGE_ID)]


class HubSpotSettings(SourceSettings):
    """How to reach a portal, and what counts as what in it."""

    token: SecretStr | None = None
    """The private app's access token (``pat-…``); usually ``${HUBSPOT_TOKEN}``. When absent,
    the environment variable named by ``token_env`` is read."""
    token_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "HUBSPOT_TOKEN"
    """The environment variable holding the token when ``token`` is not given."""
    base_url: Annotated[str, Field(pattern=r"^https?://\S+$")] = "https://api.hubapi.com"
    """HubSpot's API; a test points it at a fake."""
    searches_per_second: Annotated[int, Field(ge=1, le=50)] = 4
    """CRM searches a second for this token, counted across every worker process that uses it
    (HubSpot allows 5 per portal: 4 leaves room for other integrations)."""

    qualified_lead_stage: Annotated[str, Field(pattern=r"^([a-z]+|[0-9]+)$")] = \
        "marketingqualifiedlead"
    """A contact is a qualified lead on the day it reached this lifecycle stage
    (``hs_lifecyclestage_<stage>_date``): a built-in stage or a custom stage's numeric id."""
    qualified_lead_property: PropertyName | None = None
    """Instead of the stage: a date or datetime contact property of your own whose value is
    the day the contact was qualified."""
    customer_object: Literal["companies", "contacts"] = "companies"
    """What a customer is: a company (the default) or a contact, counted on the day it reached
    the ``customer`` lifecycle stage."""
    customer_property: PropertyName | None = None
    """Instead of ``hs_lifecyclestage_customer_date``: a date or datetime property of your own
    on ``customer_object``."""
    pipelines: list[StageId] | None = None
    """Only the deals of these pipelines (ids) count; default: every pipeline."""
    won_stages: list[StageId] | None = None
    """Deal stages (ids) that mean won; default: HubSpot's own ``hs_is_closed_won``."""
    lost_stages: list[StageId] | None = None
    """Deal stages (ids) that mean lost; default: closed (``hs_is_closed``) and not won."""
    amount_property: PropertyName = "amount_in_home_currency"
    """The deal amount summed: by default the amount in the portal's currency."""
    final_after_days: Annotated[int | None, Field(ge=0)] = 7
    """Days after a month's end from which its records are kept for good (a re-render and next
    month's report ask nothing for it); None asks HubSpot again on every run."""

    @field_validator("qualified_lead_stage")
    @classmethod
    def _known_stage(cls, stage: str) -> str:
        if not stage.isdigit() and stage not in LIFECYCLE_STAGES:
            raise ValueError(f"unknown lifecycle stage {stage!r}: expected one of "
                             f"{', '.join(LIFECYCLE_STAGES)}, or a custom stage's numeric id")
        return stage

    @model_validator(mode="after")
    def _stages_apart(self) -> HubSpotSettings:
        both = set(self.won_stages or ()) & set(self.lost_stages or ())
        if both:
            raise ValueError(f"won_stages and lost_stages both list {', '.join(sorted(both))}: "
                             "a stage means won or lost, not both")
        for name in ("pipelines", "won_stages", "lost_stages"):
            if getattr(self, name) == []:
                raise ValueError(f"{name}: an empty list counts nothing; leave it out for the "
                                 "default")
        return self

    @property
    def qualified_property(self) -> str:
        return self.qualified_lead_property or \
            f"hs_lifecyclestage_{self.qualified_lead_stage}_date"

    @property
    def customer_date_property(self) -> str:
        return self.customer_property or "hs_lifecyclestage_customer_date"


def is_lifecycle_date(name: str) -> bool:
    """HubSpot's own ``hs_lifecyclestage_<stage>_date`` properties are datetimes."""
    return re.fullmatch(r"hs_lifecyclestage_[a-z0-9]+_date", name) is not None
