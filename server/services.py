"""The long-lived parts of a running server, built once at startup and passed in."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from gql.subscriptions.broadcaster import Broadcaster
from gql.subscriptions.hub import SubscriptionHub, SubscriptionLimits
from ingest.request import IngestLimits
from jobs.alerts import AlertTask
from jobs.retention import RetentionTask
from jobs.webhooks import WebhookSender
from resolvers.options import QueryOptions
from server.body_budget import BodyBudget
from server.clock import Clock
from server.dashboard_operations import DashboardOperations
from server.key_catalogue import KeyCatalogue
from server.metrics import Metrics
from server.quota import SessionQuota
from server.series_limit import SeriesLimit
from server.settings import Settings
from server.sign_in_limit import SignInLimiter
from server.socket_slots import SocketSlots
from storage.accounts import AccountStore
from storage.store import SessionStore
from storage.writer import BatchWriter


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    store: SessionStore
    accounts: AccountStore
    writer: BatchWriter
    clock: Clock
    metrics: Metrics
    #: The ingest writer's own engine (None: it shares `engine`).
    write_engine: AsyncEngine | None = None
    #: The dashboard's persisted operations, registered at startup.
    dashboard_operations: DashboardOperations = field(default_factory=DashboardOperations)
    query_options: QueryOptions = field(init=False)
    quota: SessionQuota | None = field(init=False)
    keys: KeyCatalogue = field(init=False)
    series_limit: SeriesLimit = field(init=False)
    #: Envelopes being decoded and validated in worker threads (`ingest_concurrency`).
    ingest_slots: asyncio.Semaphore = field(init=False)
    body_budget: BodyBudget = field(init=False)
    #: The envelope limits of `settings`, built once rather than per request.
    ingest_limits: IngestLimits = field(init=False)
    #: Failed dashboard sign-ins per client address (`POST /auth/session`).
    sign_in_limit: SignInLimiter = field(init=False)
    #: The subscriptions' broadcaster and limits, once started (the app's lifespan).
    subscriptions: SubscriptionHub | None = None
    #: Open WebSocket connections per token key, across every GraphQL endpoint.
    socket_slots: SocketSlots = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.quota = SessionQuota(s.session_quota, s.session_quota_window) if s.session_quota else None
        self.keys = KeyCatalogue(self.accounts, ttl=s.key_cache_seconds)
        self.series_limit = SeriesLimit(self.store, s.new_releases_per_hour, s.new_environments_per_hour)
        self.ingest_slots = asyncio.Semaphore(s.ingest_concurrency)
        self.body_budget = BodyBudget(s.ingest_body_budget)
        self.ingest_limits = IngestLimits(
            max_envelope_size=s.max_envelope_size,
            max_item_size=s.max_session_item_size,
            max_items=s.max_envelope_items,
            max_buckets=s.max_session_buckets,
        )
        self.sign_in_limit = SignInLimiter(s.sign_in_max_failures, s.sign_in_window_seconds)
        self.socket_slots = SocketSlots(s.subscription_max_connections_per_token)
        self.query_options = QueryOptions(
            max_data_points=s.max_data_points,
            adoption_threshold=s.adoption_threshold,
            adoption_window=int(s.adoption_window_hours * 3600),
            minute_retention=s.minute_retention_days * 86400,
            hour_retention=s.hour_retention_days * 86400,
            day_retention=s.day_retention_days * 86400,
        )

    def retention_task(self) -> RetentionTask:
        """The periodic cleanup of this server (`retention_interval_seconds`; 0 disables
        it), judged by the server clock."""
        return RetentionTask(
            self.engine,
            interval=self.settings.retention_interval_seconds,
            now=self.clock.now,
            retention=self.query_options.retention,
        )

    def alert_task(self) -> AlertTask:
        """The alert evaluator of this server (`alert_interval_seconds`; 0 disables it):
        one process at a time evaluates, judged by the server clock."""
        return AlertTask(
            self.engine,
            self.store,
            self.query_options,
            interval=self.settings.alert_interval_seconds,
            now=self.clock.now,
            catchup=self.settings.alert_catchup_minutes,
            late_minutes=self.settings.alert_late_minutes,
        )

    def subscription_hub(self) -> SubscriptionHub:
        """One broadcaster of the health event log for every subscriber of this process."""
        s = self.settings
        broadcaster = Broadcaster(
            self.engine,
            poll_seconds=s.subscription_poll_seconds,
            notify_poll_seconds=s.subscription_notify_poll_seconds,
        )
        limits = SubscriptionLimits(
            per_token=s.subscription_max_per_token,
            per_connection=s.subscription_max_per_connection,
            queue_size=s.subscription_queue_size,
            replay_limit=s.subscription_replay_limit,
        )
        return SubscriptionHub(self.engine, broadcaster, limits)

    def webhook_sender(self) -> WebhookSender:
        """The delivery task of this server's webhook outbox (`webhook_interval_seconds`;
        0 disables it), on the server clock."""
        s = self.settings
        return WebhookSender(
            self.engine,
            interval=s.webhook_interval_seconds,
            timeout=s.webhook_timeout_seconds,
            allow_private=s.webhook_allow_private,
            now=self.clock.now,
        )
