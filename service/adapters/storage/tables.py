"""The relational schema as SQLAlchemy Core tables. Migrations create it; queries use it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from service.adapters.storage.types import UtcDateTime


def _serial_key(name: str) -> Column[int]:
    """A number the database draws for each new row: 64-bit on PostgreSQL; on SQLite it
    must be INTEGER to be the rowid, which is 64-bit there anyway."""
    return Column(
        name, BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


metadata = MetaData()

Json = JSON().with_variant(JSONB(), "postgresql")

registry_records = Table(
    "registry_records",
    metadata,
    Column("uscc", String(18), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_normalised", Text, nullable=False, index=True),
    Column("enterprise_type", Text, nullable=False),
    Column("legal_rep_name_ct", LargeBinary, nullable=False),
    Column("legal_rep_name_digest", LargeBinary, nullable=False),
    Column("legal_rep_name_masked", Text, nullable=False),
    Column("legal_rep_id_ct", LargeBinary),
    Column("legal_rep_id_digest", LargeBinary),
    Column("legal_rep_id_masked", Text),
    Column("registered_capital", Text),
    Column("capital_currency", String(3), nullable=False),
    Column("establishment_date", Date, nullable=False),
    Column("term_start", Date),
    Column("term_end", Date),
    Column("term_open_ended", Boolean, nullable=False),
    Column("registration_authority", Text, nullable=False),
    Column("approval_date", Date),
    Column("status", String(32), nullable=False),
    Column("address", Text, nullable=False),
    Column("business_scope", Text, nullable=False),
    Column("shareholders", Json, nullable=False),
    Column("changes", Json, nullable=False),
    Column("snapshot_time", UtcDateTime, nullable=False),
    # Keyed hash of the row as imported: re-importing an unchanged row changes nothing.
    Column("content_digest", LargeBinary, nullable=False),
    Column("import_time", UtcDateTime, nullable=False),
)

verifications = Table(
    "verifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("uscc", String(18), nullable=False),
    Column("caller", String(128), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("enterprise_name", Text, nullable=False),
    Column("legal_rep_name_ct", LargeBinary, nullable=False),
    Column("legal_rep_name_digest", LargeBinary, nullable=False),
    Column("legal_rep_name_masked", Text, nullable=False),
    Column("legal_rep_id_ct", LargeBinary, nullable=False),
    Column("legal_rep_id_digest", LargeBinary, nullable=False),
    Column("legal_rep_id_masked", Text, nullable=False),
    Column("registered_address", Text),
    # term_open_ended NULL: no term was submitted.
    Column("term_start", Date),
    Column("term_end", Date),
    Column("term_open_ended", Boolean),
    Column("auth_granted_by_ct", LargeBinary, nullable=False),
    Column("auth_granted_by_masked", Text, nullable=False),
    Column("auth_grant_time", UtcDateTime, nullable=False),
    Column("auth_scopes", Json, nullable=False),
    Column("auth_evidence_reference", Text),
    Column("outcome", String(16), nullable=False),
    Column("reasons", Json, nullable=False),
    Column("field_checks", Json, nullable=False),
    Column("registry_summary", Json),
    Column("create_time", UtcDateTime, nullable=False),
    # When the current decision (the columns above) was taken; a re-check moves it on.
    Column("update_time", UtcDateTime),
    # When the registry was last asked about it and its answer decided (confirmed or
    # changed the decision): a confirmation moves only this.
    Column("check_time", UtcDateTime),
    # The PENDING re-check schedule: when next to ask the registry (NULL: nothing to ask,
    # so the index holds only verifications still waiting), scheduled re-checks so far,
    # and when the verification first became PENDING.
    Column("recheck_time", UtcDateTime),
    Column("recheck_attempts", Integer, nullable=False, server_default=text("0")),
    Column("pending_since", UtcDateTime),
    UniqueConstraint("caller", "request_id", name="uq_verifications_caller_request"),
    Index("ix_verifications_uscc_time", "uscc", "create_time", "id"),
    Index("ix_verifications_recheck_time", "recheck_time"),
)

# Every decision a verification has had, one row per change of outcome (or of its reasons).
verification_history = Table(
    "verification_history",
    metadata,
    _serial_key("id"),
    Column("verification_id", String(36), ForeignKey("verifications.id"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reasons", Json, nullable=False),
    Column("field_checks", Json, nullable=False),
    Column("registry_summary", Json),
    Column("trigger", String(32), nullable=False),
    # What applied the change (the create request's id, a re-check's key): the same key
    # cannot change the same verification twice.
    Column("idempotency_key", String(128), nullable=False),
    Column("change_time", UtcDateTime, nullable=False),
    UniqueConstraint("verification_id", "sequence", name="uq_verification_history_sequence"),
    UniqueConstraint("verification_id", "idempotency_key", name="uq_verification_history_key"),
)

# Re-checks of an enterprise already applied, by key, with what they found: a retry of
# one is answered from here and changes nothing.
enterprise_rechecks = Table(
    "enterprise_rechecks",
    metadata,
    Column("uscc", String(18), primary_key=True),
    Column("idempotency_key", String(128), primary_key=True),
    Column("trigger", String(32), nullable=False),
    Column("result", Json, nullable=False),
    Column("recheck_time", UtcDateTime, nullable=False),
)

# Events to tell the outside world, written in the transaction of the change they report
# and sent later; dispatch_time NULL: not sent yet. Payloads carry no personal data.
outbox = Table(
    "outbox",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("aggregate_type", String(32), nullable=False),
    Column("aggregate_id", String(64), nullable=False),
    Column("uscc", String(18), nullable=False),
    Column("payload", Json, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("dispatch_time", UtcDateTime),
    Index(
        "ix_outbox_undispatched",
        "create_time",
        sqlite_where=text("dispatch_time IS NULL"),
        postgresql_where=text("dispatch_time IS NULL"),
    ),
)

callers = Table(
    "callers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("platform", String(32)),
    Column("scopes", Json, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("revoke_time", UtcDateTime),
)

credentials = Table(
    "credentials",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("caller_id", String(36), ForeignKey("callers.id"), nullable=False, index=True),
    # SHA-256 of a 256-bit random secret: high entropy needs no slow hash.
    Column("secret_hash", LargeBinary, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("revoke_time", UtcDateTime),
)

# Every version of every archive fact; superseded_time NULL marks the open version.
_NAMED_REGISTRY_FACTS = (
    "kind = 'registry' AND superseded_time IS NULL AND name_normalised IS NOT NULL"
)
archive_facts = Table(
    "archive_facts",
    metadata,
    _serial_key("id"),
    Column("uscc", String(18), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("fact_key", String(160), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("payload", Json),
    Column("source", String(64), nullable=False),
    Column("recorded_time", UtcDateTime, nullable=False),
    Column("superseded_time", UtcDateTime),
    # Registry facts only: the enterprise's name as a lookup key (names.py normalise_name).
    Column("name_normalised", String(200)),
    Index("ix_archive_facts_uscc_time", "uscc", "recorded_time"),
    Index(
        "uq_archive_facts_open",
        "uscc",
        "kind",
        "fact_key",
        "platform",
        unique=True,
        sqlite_where=text("superseded_time IS NULL"),
        postgresql_where=text("superseded_time IS NULL"),
    ),
    # The name lookup's conditions; "has a name" keeps reads by USCC off it (0013).
    Index(
        "ix_archive_facts_registry_name",
        "name_normalised",
        sqlite_where=text(_NAMED_REGISTRY_FACTS),
        postgresql_where=text(_NAMED_REGISTRY_FACTS),
    ),
)

# Platform ingestion events already applied: a retried event changes nothing.
ingested_events = Table(
    "ingested_events",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("uscc", String(18), nullable=False),
    Column("ingest_time", UtcDateTime, nullable=False),
)

# Append-only and hash-chained: see service/domain/disclosure.py.
disclosure_ledger = Table(
    "disclosure_ledger",
    metadata,
    _serial_key("sequence"),
    Column("subject_uscc", String(18), nullable=False),
    Column("recipient_id", String(36), nullable=False),
    Column("recipient_name", Text, nullable=False),
    Column("recipient_kind", String(16), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("scenario", String(64), nullable=False),
    Column("fields", Json, nullable=False),
    Column("disclose_time", UtcDateTime, nullable=False),
    Column("previous_hash", LargeBinary, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
    Index("ix_disclosure_ledger_subject", "subject_uscc", "sequence"),
)

# The ledger's Merkle tree: every perfect subtree of level 1 or more that integrated
# entries complete (service/domain/merkle.py), and the signed checkpoints published.
ledger_tree_nodes = Table(
    "ledger_tree_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True),
    Column("node_index", BigInteger, primary_key=True),
    Column("hash", LargeBinary, nullable=False),
)

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("origin", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("publish_time", UtcDateTime, nullable=False),
)

# Merchants' disputes of items of their archive, level or verifications
# (service/domain/disputes.py).
disputes = Table(
    "disputes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("uscc", String(18), nullable=False),
    Column("item", String(128), nullable=False),
    Column("statement", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("opened_by", String(160), nullable=False),
    Column("open_time", UtcDateTime, nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("assignee", String(160), nullable=False),
    Column("reason", Text, nullable=False),
    Column("resolve_time", UtcDateTime),
    Index("ix_disputes_state_deadline", "state", "deadline"),
    Index("ix_disputes_uscc_state", "uscc", "state"),
    # One unanswered dispute per item (0016).
    Index(
        "uq_disputes_pending_item",
        "uscc",
        "item",
        unique=True,
        sqlite_where=text("state IN ('open', 'in_review')"),
        postgresql_where=text("state IN ('open', 'in_review')"),
    ),
)

data_requests = Table(
    "data_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("uscc", String(18), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("statement", Text, nullable=False),
    Column("opened_by", String(160), nullable=False),
    Column("open_time", UtcDateTime, nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("assignee", String(160), nullable=False),
    Column("answer", Text, nullable=False),
    Column("answer_time", UtcDateTime),
    Index("ix_data_requests_state_deadline", "state", "deadline"),
    Index("ix_data_requests_uscc_kind", "uscc", "kind", "state"),
)

identity_proof_failures = Table(
    "identity_proof_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False),
    Column("attempt_time", UtcDateTime, nullable=False),
    Index("ix_identity_proof_failures_uscc_time", "uscc", "attempt_time"),
)

enterprise_closures = Table(
    "enterprise_closures",
    metadata,
    Column("uscc", String(18), primary_key=True),
    Column("close_time", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("purge_time", UtcDateTime),
    Index("ix_enterprise_closures_close_time", "close_time"),
)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("uscc", String(18), nullable=False),
    Column("item", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("place_time", UtcDateTime, nullable=False),
    Column("release_time", UtcDateTime),
    Index("ix_legal_holds_uscc", "uscc"),
)

data_marks = Table(
    "data_marks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("mark_time", UtcDateTime, nullable=False),
)

scorecards = Table(
    "scorecards",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("document", Json, nullable=False),
    # active (one at most), shadow (one at most), or retired.
    Column("state", String(16), nullable=False),
    Column("load_time", UtcDateTime, nullable=False),
    Column("state_time", UtcDateTime, nullable=False),
)

# Every level ever computed: the current one is the latest per enterprise and role.
integrity_levels = Table(
    "integrity_levels",
    metadata,
    _serial_key("id"),
    Column("uscc", String(18), nullable=False),
    Column("role", String(8), nullable=False),
    Column("scorecard_version", String(32), nullable=False),
    Column("level_class", String(32), nullable=False),
    Column("sufficient_data", Boolean, nullable=False),
    Column("score", Integer, nullable=False),
    Column("reasons", Json, nullable=False),
    Column("improvements", Json, nullable=False),
    Column("cap_reason", String(64), nullable=False),
    Column("inputs_digest", String(64), nullable=False),
    Column("compute_time", UtcDateTime, nullable=False),
    # When the current level must be worked out again (its inputs next change meaning).
    # Cleared once a newer level replaces it, so the index holds only levels still due.
    Column("revisit_time", UtcDateTime),
    Index("ix_integrity_levels_uscc_role_time", "uscc", "role", "compute_time"),
    Index("ix_integrity_levels_revisit_time", "revisit_time"),
)

eligibility_policies = Table(
    "eligibility_policies",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("policy_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", Json, nullable=False),
    Column("announce_time", UtcDateTime, nullable=False),
    Column("effective_time", UtcDateTime, nullable=False),
    Column("retire_time", UtcDateTime),
    Column("load_time", UtcDateTime, nullable=False),
)

# Which enterprises changed, in order: replicas and caches follow it to drop stale entries.
change_log = Table(
    "change_log",
    metadata,
    _serial_key("sequence"),
    Column("uscc", String(18), nullable=False),
    Column("change_time", UtcDateTime, nullable=False),
)

# Each HTTP registry source's next free request start, in seconds since the epoch on the
# database's clock: the request rate shared by every process (registry_http/pg_limits.py).
registry_source_budgets = Table(
    "registry_source_budgets",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("next_start", Float, nullable=False),
)

# The shares of a fast HTTP source's start timeline (registry_http/pg_rate_shares.py):
# per period of the timeline, the residues of its starts each process holds (a bit mask).
registry_rate_shares = Table(
    "registry_rate_shares",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("period", BigInteger, primary_key=True),
    Column("holder", String(64), primary_key=True),
    Column("residues", BigInteger, nullable=False),
    Column("wanted", Integer, nullable=False),
)

# The concurrency slots of an HTTP source for processes sharing a SQLite file
# (service/adapters/registry_http/sqlite_limits.py): who holds each, leased until when.
registry_source_slots = Table(
    "registry_source_slots",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("holder", String(64)),
    Column("lease_expiry", Float, nullable=False),
)

# Re-verification batches (service/domain/batches.py): one row per batch, one per enterprise.
reverification_batches = Table(
    "reverification_batches",
    metadata,
    Column("id", String(36), primary_key=True),
    # The selection as ops asked for it (Selection.describe()).
    Column("selection", Json, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("finish_time", UtcDateTime),
    Column("item_count", Integer, nullable=False),
)

batch_items = Table(
    "batch_items",
    metadata,
    _serial_key("id"),
    Column("batch_id", String(36), ForeignKey("reverification_batches.id"), nullable=False),
    Column("uscc", String(18), nullable=False),
    Column("state", String(16), nullable=False),
    # Who holds the lease, or who finished the item once done.
    Column("lease_holder", String(64)),
    Column("lease_expiry", UtcDateTime),
    Column("attempts", Integer, nullable=False),
    # Tries the registry could not answer (counted in attempts, used against none of them).
    Column("unanswered", Integer, nullable=False, server_default="0"),
    # A waiting item is handed out again from this time on.
    Column("next_attempt_time", UtcDateTime),
    # False: the re-check had been applied by an earlier attempt, whose outcome this is.
    Column("applied", Boolean),
    Column("verifications_checked", Integer),
    Column("outcome_before", String(16)),
    Column("outcome_after", String(16)),
    Column("reasons", Json),
    Column("level_class_before", String(32)),
    Column("level_class_after", String(32)),
    Column("error", Text),
    Column("finish_time", UtcDateTime),
    UniqueConstraint("batch_id", "uscc", name="uq_batch_items_batch_uscc"),
    # Claiming: a running batch's queued items in order, and leases that lapsed.
    Index("ix_batch_items_claim", "batch_id", "state", "id"),
    Index("ix_batch_items_lease", "state", "lease_expiry"),
)
