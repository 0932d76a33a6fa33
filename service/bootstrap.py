"""The composition root: settings in, a wired application out. Nothing else builds adapters."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from integrity.v1 import (
    archive_pb2,
    archive_pb2_grpc,
    data_rights_pb2,
    data_rights_pb2_grpc,
    disclosure_pb2,
    disclosure_pb2_grpc,
    dispute_pb2,
    dispute_pb2_grpc,
    eligibility_pb2,
    eligibility_pb2_grpc,
    platform_data_pb2,
    platform_data_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.pii_vault import AesGcmVault
from service.adapters.registry_changes import HttpRegistryChangeFeed
from service.adapters.registry_http.archiving import ArchivingRegistry
from service.adapters.registry_http.breaker import BreakerPolicy, CircuitBreaker
from service.adapters.registry_http.government import GovernmentRegistryClient
from service.adapters.registry_http.keepalive import KeepAliveTransport
from service.adapters.registry_http.limits import SourceLimits
from service.adapters.registry_http.provider import DataProviderClient
from service.adapters.registry_http.shared_limits import shared_limiter
from service.adapters.registry_http.source_http import SourceHttp
from service.adapters.registry_http.transport import RetryPolicy, SourceTransport
from service.adapters.registry_snapshot import SqlRegistrySnapshot
from service.adapters.standings import ChangeFollower, SqlStandingSource
from service.adapters.storage.archive_store import SqlArchiveStore
from service.adapters.storage.authorisations import SqlAuthorisationRecords
from service.adapters.storage.batch_selections import SqlBatchSelections
from service.adapters.storage.batches import SqlBatchStore
from service.adapters.storage.callers import SqlCallerStore
from service.adapters.storage.data_requests import SqlDataRequestStore
from service.adapters.storage.disputes import SqlDisputeStore
from service.adapters.storage.engine import create_engine
from service.adapters.storage.facts import SqlFactWriter, SqlRegistryFacts
from service.adapters.storage.ingestion import SqlIngestionStore
from service.adapters.storage.ledger import SqlDisclosureLedger
from service.adapters.storage.ledger_tree import SqlLedgerTree
from service.adapters.storage.legacy_reseal import reseal_registry, reseal_verifications
from service.adapters.storage.levels import SqlLevelStore, SqlScorecardStore
from service.adapters.storage.migrate import migrate, require_current_schema
from service.adapters.storage.outages import is_storage_outage
from service.adapters.storage.policies import SqlPolicyStore
from service.adapters.storage.repositories import SqlUnitOfWorkFactory
from service.adapters.storage.retention import SqlRetentionStore
from service.adapters.subject_keys import (
    SubjectKeyring,
    key_store_engine,
)
from service.api.archive_servicer import ArchiveServicer, DisclosureServicer
from service.api.callers import CallGate
from service.api.data_rights_servicer import DataRightsServicer
from service.api.dispute_servicer import DisputeServicer
from service.api.eligibility_servicer import EligibilityServicer
from service.api.platform_data_servicer import PlatformDataServicer
from service.api.request_handling import WrappingRegistrar
from service.api.verification_servicer import VerificationServicer
from service.app.archive import ArchiveReader
from service.app.batches import BatchService
from service.app.credentials import CredentialService
from service.app.data_rights import DataRightsService
from service.app.disclosures import DisclosureQueries
from service.app.disputes import DisputeService
from service.app.eligibility import EligibilityChecker, PolicyAdmin
from service.app.ingestion import PlatformIngestion
from service.app.judicial_import import JudicialImporter
from service.app.ledger_log import DisclosureLog
from service.app.level_history import LevelHistoryQueries
from service.app.levels import LevelService
from service.app.page_tokens import PageTokens
from service.app.personal_data_access import PersonalDataAccess
from service.app.platform_import import PlatformImporter
from service.app.ports import (
    Clock,
    DataProvider,
    OnChange,
    Registry,
    RegistryChangeFeed,
    RegistryReadAhead,
)
from service.app.rechecks import VerificationRechecks
from service.app.registry_check import RegistryCheck
from service.app.registry_import import RegistryImporter
from service.app.retention import RetentionService
from service.app.service_state import ServiceStates
from service.app.standings import PolicyBook, StandingCache
from service.app.verification_disclosure import DisclosingVerifications
from service.app.verifications import VerificationService
from service.domain.errors import FailedPrecondition
from service.domain.rate_limits import RateLimiter
from service.domain.registry_sources import SourceKind
from service.domain.visibility import PurposeTable
from service.jobs.ledger_checkpoints import CheckpointPublisher
from service.jobs.level_revisits import LevelRevisitScheduler
from service.jobs.pending_rechecks import PendingRecheckScheduler
from service.jobs.retention_purge import RetentionPurger
from service.jobs.reverification import ReverificationWorker
from service.settings import Settings

log = structlog.get_logger("integrity.bootstrap")


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RegistrySources:
    """What the HTTP registry sources hold that must be closed: their transports, and the
    archive writes of the government registry's answers still running."""

    transports: tuple[SourceTransport, ...] = ()
    archiving: ArchivingRegistry | None = None

    async def aclose(self) -> None:
        if self.archiving is not None:
            await self.archiving.drain()
        for transport in self.transports:
            await transport.aclose()


@dataclass
class Application:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    registry_engine: AsyncEngine
    vault: AesGcmVault
    # Per-enterprise keys of legal representatives' data, in the key store (crypto-shredding).
    subject_keys: SubjectKeyring
    registry: SqlRegistrySnapshot
    # Each answer recorded in the disclosure ledger before it leaves.
    verifications: DisclosingVerifications
    importer: RegistryImporter
    credentials: CredentialService
    ledger: SqlDisclosureLedger
    # The ledger as a verifiable log: its tree, checkpoints and proofs, and their publisher.
    ledger_log: DisclosureLog
    checkpoints: CheckpointPublisher
    archive: ArchiveReader
    disclosures: DisclosureQueries
    ingestion: PlatformIngestion
    platform_importer: PlatformImporter
    judicial_importer: JudicialImporter
    gate: CallGate
    levels: LevelService
    eligibility: EligibilityChecker
    policies: PolicyAdmin
    follower: ChangeFollower
    standings: StandingCache
    service_states: ServiceStates
    revisits: LevelRevisitScheduler
    # Deciding verifications again: an enterprise's on demand, PENDING ones when due.
    rechecks: VerificationRechecks
    pending_rechecks: PendingRecheckScheduler
    batches: BatchService
    batch_store: SqlBatchStore
    # Merchants' disputes and ops' answers.
    disputes: DisputeService
    # Merchants' data requests (correction, deletion, withdrawal) and ops' answers.
    data_rights: DataRightsService
    # The legal representative's own data, unmasked, for a request proving who they are.
    personal_data: PersonalDataAccess
    # Closed accounts kept two years, then purged but for what legal holds keep; the
    # server's purge at intervals.
    retention: RetentionService
    purger: RetentionPurger
    # The HTTP registry sources, closed with the application.
    registry_sources: RegistrySources = field(default_factory=RegistrySources)

    def batch_worker(self) -> ReverificationWorker:
        """A worker for re-verification batches, on this application's settings and clock."""
        return ReverificationWorker(
            self.batch_store,
            self.rechecks,
            self.clock,
            concurrency=self.settings.batch_concurrency,
            lease_seconds=self.settings.batch_lease_seconds,
            poll_seconds=self.settings.batch_poll_seconds,
        )

    async def migrate_registry(self) -> None:
        """The registry snapshot's schema, where it is a database apart. Start-up lets an
        unreachable registry pass (an outage); commands that need the registry do not."""
        if self.registry_engine is not self.engine:
            await migrate(self.registry_engine, self.vault)
            await reseal_registry(self.registry_engine, self.vault, self.subject_keys)

    async def require_current_schema(self) -> None:
        """For an application bootstrapped without migrations to read only: its database
        must already be at the schema this code queries (see require_current_schema)."""
        await require_current_schema(self.engine)

    async def close(self) -> None:
        await self.checkpoints.close()
        await self.purger.close()
        await self.pending_rechecks.close()
        await self.registry_sources.aclose()
        await self.revisits.close()
        await self.follower.close()
        await self.ledger.close()
        await self.engine.dispose()
        if self.registry_engine is not self.engine:
            await self.registry_engine.dispose()
        await self.subject_keys.engine.dispose()


async def bootstrap(
    settings: Settings, *, clock: Clock | None = None, run_migrations: bool = True
) -> Application:
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    registry_engine = engine
    if settings.effective_registry_url != settings.database_url:
        registry_engine = create_engine(settings.effective_registry_url)
    keys = settings.pii_keys
    vault = AesGcmVault(keys.encryption_keys, keys.active_key_id, keys.digest_key)
    subject_keys = SubjectKeyring(
        key_store_engine(settings.effective_key_store_url), vault, clock.now
    )
    if run_migrations:
        await subject_keys.create_schema()
        await migrate(engine, vault)
        await reseal_verifications(engine, vault, subject_keys)
        if registry_engine is engine:
            await reseal_registry(engine, vault, subject_keys)
        else:
            await _migrate_registry(registry_engine, vault, subject_keys)
    registry = SqlRegistrySnapshot(registry_engine, archive_engine=engine)
    ledger = SqlDisclosureLedger(engine, commit_interval=settings.ledger_commit_interval_seconds)
    level_store = SqlLevelStore(engine)
    standings = StandingCache(SqlStandingSource(level_store, clock))
    levels = LevelService(
        level_store, SqlScorecardStore(engine), clock, on_saved=standings.invalidate
    )
    policy_store = SqlPolicyStore(engine)
    policy_book = PolicyBook(policy_store)
    if run_migrations:
        await _ensure_scorecard(levels)
    credentials = CredentialService(SqlCallerStore(engine), clock)
    fact_writer = SqlFactWriter(engine, clock)
    ingestion = PlatformIngestion(
        SqlIngestionStore(engine), clock, on_change=levels.archive_changed
    )
    page_tokens = PageTokens(keys.digest_key)
    registry_changed = RegistryChanged(levels)
    registry_check, registry_sources = _registry_check(
        settings, registry, engine, vault, subject_keys, clock, on_change=registry_changed
    )
    data_requests = SqlDataRequestStore(engine, registry_engine)
    verifications = VerificationService(
        SqlUnitOfWorkFactory(engine),
        registry_check,
        subject_keys,
        clock,
        withdrawn_since=data_requests.withdrawn_since,
        page_tokens=page_tokens,
        on_change=levels.archive_changed,
        schedule=settings.recheck_schedule,
    )
    rechecks = VerificationRechecks(
        SqlUnitOfWorkFactory(engine),
        registry_check,
        levels,
        clock,
        schedule=settings.recheck_schedule,
    )
    registry_changed.rechecks = rechecks
    batch_store = SqlBatchStore(engine)
    signer = settings.ledger_signer
    ledger_log = DisclosureLog(
        SqlLedgerTree(engine, clock, signer), signer.verifier if signer else None
    )
    disputes = DisputeService(SqlDisputeStore(engine), clock, on_corrected=levels.archive_changed)

    async def personal_data_destroyed(uscc: str, key: str) -> None:
        await rechecks.recheck_enterprise(uscc, trigger="personal_data_destroyed", key=key)
        await levels.archive_changed([uscc])

    data_rights = DataRightsService(
        data_requests, subject_keys, clock, on_destroyed=personal_data_destroyed
    )
    retention = RetentionService(SqlRetentionStore(engine), data_rights, disputes, clock)
    return Application(
        settings=settings,
        clock=clock,
        engine=engine,
        registry_engine=registry_engine,
        vault=vault,
        subject_keys=subject_keys,
        registry=registry,
        verifications=DisclosingVerifications(verifications, ledger, clock),
        importer=RegistryImporter(registry, vault, subject_keys, clock, on_change=registry_changed),
        credentials=credentials,
        ledger=ledger,
        ledger_log=ledger_log,
        checkpoints=CheckpointPublisher(
            ledger_log, interval=settings.ledger_checkpoint_interval_seconds
        ),
        archive=ArchiveReader(
            SqlArchiveStore(engine, registry_engine),
            ledger,
            load_purposes(settings),
            clock,
            levels,
            SqlAuthorisationRecords(engine),
        ),
        disclosures=DisclosureQueries(ledger, page_tokens, ledger_log),
        ingestion=ingestion,
        platform_importer=PlatformImporter(ingestion),
        judicial_importer=JudicialImporter(fact_writer, clock, on_change=levels.archive_changed),
        levels=levels,
        eligibility=EligibilityChecker(standings, policy_book, ledger, clock, levels),
        policies=PolicyAdmin(policy_store, policy_book, levels, clock),
        follower=ChangeFollower(engine, standings, policy_book, policy_store, levels),
        standings=standings,
        service_states=ServiceStates(fact_writer, on_change=levels.archive_changed),
        gate=CallGate(credentials, RateLimiter(settings.rate_limits), clock),
        revisits=LevelRevisitScheduler(
            levels, clock, interval=settings.level_revisit_interval_seconds
        ),
        rechecks=rechecks,
        pending_rechecks=PendingRecheckScheduler(
            rechecks, clock, interval=settings.pending_recheck_interval_seconds
        ),
        registry_sources=registry_sources,
        batches=BatchService(
            batch_store,
            SqlBatchSelections(engine, registry_engine),
            clock,
            change_feed=_change_feed(settings),
        ),
        batch_store=batch_store,
        disputes=disputes,
        data_rights=data_rights,
        retention=retention,
        purger=RetentionPurger(retention, interval=settings.retention_purge_interval_seconds),
        personal_data=PersonalDataAccess(
            registry, verifications, subject_keys, data_requests, ledger, clock
        ),
    )


def _change_feed(settings: Settings) -> RegistryChangeFeed | None:
    if not settings.registry_changes_url:
        return None
    token = ""
    if settings.registry_changes_token_file:
        token = Path(settings.registry_changes_token_file).read_text(encoding="utf-8").strip()
    return HttpRegistryChangeFeed(
        settings.registry_changes_url, token, timeout_seconds=settings.registry_timeout_seconds * 5
    )


class RegistryChanged:
    """What follows a registry record that changed, imported or answered by the government
    registry: levels worked out again, and the enterprise's PENDING verifications asked
    about at once rather than at their next scheduled time.

    The re-checks are bound once they exist: they ask the registry check whose answers
    call this."""

    def __init__(self, levels: LevelService) -> None:
        self._levels = levels
        self.rechecks: VerificationRechecks | None = None

    async def __call__(self, usccs: Sequence[str]) -> None:
        try:
            await self._levels.archive_changed(usccs)
        finally:
            if self.rechecks is not None:
                await self.rechecks.registry_changed(usccs)


def _transport(
    settings: Settings, engine: AsyncEngine, source: SourceKind, base_url: str, limits: SourceLimits
) -> SourceTransport:
    # The contracted limits bind every process on the database (see shared_limits).
    limiter = shared_limiter(engine, source.value, limits)
    # Per source and per process, on purpose: each replica learns of an outage by itself
    # within a few calls (INTEGRITY_REGISTRY_BREAKER_FAILURES), which costs a few failed
    # calls per replica; a breaker shared through the database would put the database on
    # every registry call's path, and its failures on the registry's.
    breaker = CircuitBreaker(
        BreakerPolicy(
            consecutive_failures=settings.registry_breaker_failures,
            cool_down_seconds=settings.registry_breaker_cool_down_seconds,
        )
    )
    # Every connection the contract allows is kept alive (keepalive.py).
    client = SourceHttp(base_url, KeepAliveTransport(limits.max_concurrency))
    retry = RetryPolicy(max_attempts=settings.registry_retry_attempts)
    return SourceTransport(source.value, client, limiter, breaker, retry)


def _registry_check(
    settings: Settings,
    snapshot: Registry,
    engine: AsyncEngine,
    vault: AesGcmVault,
    keys: SubjectKeyring,
    clock: Clock,
    *,
    on_change: OnChange,
) -> tuple[RegistryCheck, RegistrySources]:
    """The registry check over the sources the settings name (INTEGRITY_REGISTRY_SOURCES).

    The government registry's answers update the archive's registry facts as they come
    (on_change told of those that changed), as an import does for the snapshot."""
    transports: list[SourceTransport] = []
    archiving: ArchivingRegistry | None = None
    budget = settings.registry_source_budget_seconds
    registry, kind = snapshot, SourceKind.REGISTRY_SNAPSHOT
    if "gov" in settings.registry_sources:
        assert settings.gov_registry_url and settings.gov_registry_token  # Settings.load
        limits = SourceLimits(
            settings.gov_registry_max_concurrency,
            settings.gov_registry_max_rate,
            burst=settings.gov_registry_max_burst,
        )
        kind = SourceKind.GOVERNMENT_REGISTRY
        transport = _transport(settings, engine, kind, settings.gov_registry_url, limits)
        transports.append(transport)
        registry = ArchivingRegistry(
            GovernmentRegistryClient(
                transport,
                settings.gov_registry_token,
                vault,
                keys,
                clock,
                budget_seconds=budget,
            ),
            SqlRegistryFacts(engine, clock),
            # Within the caller's registry timeout, with a margin for deciding: a later
            # write finishes after the answer (archiving.py).
            answer_within_seconds=settings.registry_timeout_seconds * 0.95,
            on_change=on_change,
        )
        archiving = registry
    provider: DataProvider | None = None
    if "provider" in settings.registry_sources:
        assert settings.provider_url and settings.provider_app_id and settings.provider_secret
        limits = SourceLimits(
            settings.provider_max_concurrency,
            settings.provider_max_rate,
            burst=settings.provider_max_burst,
        )
        transport = _transport(
            settings, engine, SourceKind.DATA_PROVIDER, settings.provider_url, limits
        )
        transports.append(transport)
        provider = DataProviderClient(
            transport,
            settings.provider_app_id,
            settings.provider_secret,
            keys,
            clock,
            budget_seconds=budget,
        )
    # A network source's answers are sealed with the enterprise's key: a batch's chunk
    # reads those keys at once, with the archive's facts.
    read_ahead: list[RegistryReadAhead] = [] if archiving is None else [archiving]
    if transports:
        read_ahead.append(keys)
    check = RegistryCheck(
        registry,
        clock,
        timeout_seconds=settings.registry_timeout_seconds,
        registry_source=kind,
        provider=provider,
        read_ahead=read_ahead,
    )
    return check, RegistrySources(tuple(transports), archiving)


async def _migrate_registry(
    registry_engine: AsyncEngine, vault: AesGcmVault, keys: SubjectKeyring
) -> None:
    # A registry that cannot be reached at start-up is an outage, not a reason to refuse to
    # serve: verifications answer PENDING until it is back.
    try:
        await migrate(registry_engine, vault)
        await reseal_registry(registry_engine, vault, keys)
    except Exception as error:  # drivers raise their own types on connect (asyncpg does)
        log.warning("registry_unavailable_at_startup", error_type=type(error).__name__)


SERVICE_NAMES = (
    verification_pb2.DESCRIPTOR.services_by_name["VerificationService"].full_name,
    archive_pb2.DESCRIPTOR.services_by_name["ArchiveService"].full_name,
    disclosure_pb2.DESCRIPTOR.services_by_name["DisclosureService"].full_name,
    platform_data_pb2.DESCRIPTOR.services_by_name["PlatformDataService"].full_name,
    eligibility_pb2.DESCRIPTOR.services_by_name["EligibilityService"].full_name,
    dispute_pb2.DESCRIPTOR.services_by_name["DisputeService"].full_name,
    data_rights_pb2.DESCRIPTOR.services_by_name["DataRightsService"].full_name,
)


DEFAULT_SCORECARD = "2026.1.json"


async def _ensure_scorecard(levels: LevelService) -> None:
    """A fresh database starts with the packaged scorecard active."""
    try:
        await levels.scorecards()
    except FailedPrecondition as error:
        if error.reason != "NO_ACTIVE_SCORECARD":
            # A stored active version the reader refuses (logged) is not replaced behind
            # ops' back: the server starts, and levels wait for a valid version.
            return
        packaged = resources.files("service.config.scorecards") / DEFAULT_SCORECARD
        await levels.load_scorecard(json.loads(packaged.read_text(encoding="utf-8")), shadow=False)


def load_purposes(settings: Settings) -> PurposeTable:
    if settings.purposes_file:
        document = json.loads(Path(settings.purposes_file).read_text(encoding="utf-8"))
    else:
        default = resources.files("service.config") / "disclosure_purposes.json"
        document = json.loads(default.read_text(encoding="utf-8"))
    return PurposeTable.from_document(document)


def build_server(
    app: Application, options: Sequence[tuple[str, Any]] = ()
) -> tuple[grpc.aio.Server, HealthServicer]:
    server = grpc.aio.server(options=options)
    # Every API method goes through the request handling (request id, credentials, scope,
    # rate, error mapping); health and reflection below are registered as they are.
    registrar = WrappingRegistrar(server, app.gate, is_storage_outage)
    api: Any = registrar
    verification_pb2_grpc.add_VerificationServiceServicer_to_server(
        VerificationServicer(app.verifications), api
    )
    archive_pb2_grpc.add_ArchiveServiceServicer_to_server(
        ArchiveServicer(app.archive, LevelHistoryQueries(app.levels), app.disputes), api
    )
    disclosure_pb2_grpc.add_DisclosureServiceServicer_to_server(
        DisclosureServicer(app.disclosures, app.ledger_log), api
    )
    platform_data_pb2_grpc.add_PlatformDataServiceServicer_to_server(
        PlatformDataServicer(app.ingestion), api
    )
    eligibility_pb2_grpc.add_EligibilityServiceServicer_to_server(
        EligibilityServicer(app.eligibility), api
    )
    dispute_pb2_grpc.add_DisputeServiceServicer_to_server(DisputeServicer(app.disputes), api)
    data_rights_pb2_grpc.add_DataRightsServiceServicer_to_server(
        DataRightsServicer(app.data_rights, app.personal_data), api
    )
    registrar.check_complete()
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    return server, health_servicer
