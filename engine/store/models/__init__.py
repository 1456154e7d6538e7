"""The store's ORM tables (one metadata); only engine.store modules import this."""
from engine.store.models.base import Base, UtcDateTime, as_utc
from engine.store.models.ha import EngineLeaseRow
from engine.store.models.calls import CallbackRow, DispositionRow, InteractionRow, RecordingRow, SurveyResultRow
from engine.store.models.outbound import (
    CampaignContactRow,
    CampaignRow,
    ContactAttemptRow,
    DialDecisionRow,
    DncEntryRow,
    ImportRunRow,
    NumberClaimRow,
)
from engine.store.models.reports import AgentStateDayRow, ReportDailyCountRow, RollupDayRow
from engine.store.models.people import AgentRow, AgentSkillRow, AgentStateChangeRow, CustomerPhoneRow, CustomerRow, SkillRow
from engine.store.models.tokens import ApiTokenRow
from engine.store.models.users import WebUserRow
from engine.store.models.webhooks import WebhookOutboxRow

__all__ = [
    "AgentRow", "ApiTokenRow", "AgentSkillRow", "AgentStateDayRow", "AgentStateChangeRow", "Base", "CallbackRow", "CampaignContactRow",
    "CampaignRow", "ContactAttemptRow", "CustomerPhoneRow", "CustomerRow", "DispositionRow", "DncEntryRow",
    "EngineLeaseRow", "ImportRunRow", "InteractionRow", "RecordingRow", "DialDecisionRow", "NumberClaimRow",
    "ReportDailyCountRow", "RollupDayRow", "SkillRow", "SurveyResultRow", "UtcDateTime", "WebUserRow",
    "WebhookOutboxRow", "as_utc",
]
