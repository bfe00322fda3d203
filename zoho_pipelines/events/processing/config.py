"""What event processing reads from the environment, beyond the product-wide `Settings`.

Kept apart from `zoho_pipelines.settings` because only the event jobs care: the second queue,
the lead-score fields, the scorer, and the Notification API channel the schedule keeps alive.
Like `Settings`, every field maps to one upper-case variable and errors name that variable.

| variable | meaning | default |
|---|---|---|
| LEAD_QUALIFICATION_QUEUE_URL | SQS queue of new leads | the local queue |
| ZOHO_LEAD_SCORE_FIELD | Lead field that receives the score (integer) | Lead_Score__c |
| ZOHO_LEAD_SCORE_REASON_FIELD | Lead field that receives the reason (text) | Qualification_Notes__c |
| BEDROCK_MODEL_ID | score with Amazon Bedrock (Converse) instead of the rules | none |
| ZOHO_WATCH_CHANNEL_ID | numeric Notification API channel id | none (no channel managed) |
| ZOHO_WATCH_NOTIFY_URL | where Zoho POSTs notifications (the ingress URL) | none (no channel managed) |
| ZOHO_CHANNEL_TOKENS | channel tokens; the first is sent to Zoho, all are accepted by the ingress | none |
| ZOHO_WATCH_EVENTS | comma-separated, e.g. Leads.all,Deals.edit | `<Module>.all` per synced CRM module |
| ZOHO_WATCH_CHANNEL_TTL_HOURS | how long each renewal keeps the channel alive (Zoho allows up to 168) | 24 |
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from zoho_pipelines.redaction import register_secret
from zoho_pipelines.settings import ConfigurationError

MAX_CHANNEL_TTL_HOURS = 168  # Zoho: a channel lives at most one week


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class EventProcessingSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", case_sensitive=False, extra="ignore", frozen=True
    )

    lead_qualification_queue_url: str | None = Field(None, alias="LEAD_QUALIFICATION_QUEUE_URL")
    lead_score_field: str = Field("Lead_Score__c", alias="ZOHO_LEAD_SCORE_FIELD", min_length=1)
    lead_score_reason_field: str = Field(
        "Qualification_Notes__c", alias="ZOHO_LEAD_SCORE_REASON_FIELD", min_length=1
    )
    bedrock_model_id: str | None = Field(None, alias="BEDROCK_MODEL_ID")
    watch_channel_id: int | None = Field(None, alias="ZOHO_WATCH_CHANNEL_ID", gt=0)
    watch_notify_url: str | None = Field(None, alias="ZOHO_WATCH_NOTIFY_URL")
    channel_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, alias="ZOHO_CHANNEL_TOKENS"
    )
    watch_events: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="ZOHO_WATCH_EVENTS")
    watch_channel_ttl_hours: float = Field(
        24.0, alias="ZOHO_WATCH_CHANNEL_TTL_HOURS", ge=1, le=MAX_CHANNEL_TTL_HOURS
    )

    _split_lists = field_validator("channel_tokens", "watch_events", mode="before")(_split_csv)

    @field_validator("watch_notify_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @field_validator("bedrock_model_id", "lead_qualification_queue_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value else None

    @property
    def channel_token(self) -> str | None:
        """The token new and renewed channels carry (the first; the others are being retired)."""
        if not self.channel_tokens:
            return None
        token = self.channel_tokens[0].get_secret_value()
        register_secret(token)
        return token

    @property
    def manages_watch_channel(self) -> bool:
        return self.watch_channel_id is not None and self.watch_notify_url is not None


def load_event_settings(**overrides: object) -> EventProcessingSettings:
    """Build the settings from the environment; errors name the variable at fault."""
    try:
        return EventProcessingSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        aliases = {
            name: field.alias or name.upper() for name, field in EventProcessingSettings.model_fields.items()
        }
        problems = [
            f"{aliases.get(str(error['loc'][0]), str(error['loc'][0]).upper())}: {error['msg']}"
            for error in exc.errors()
            if error["loc"]
        ]
        raise ConfigurationError("invalid event processing configuration: " + "; ".join(problems)) from None
