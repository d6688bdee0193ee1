"""The long-lived parts of a running server, built once at startup and passed in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from server.clock import Clock
from server.metrics import Metrics
from server.settings import Settings
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
