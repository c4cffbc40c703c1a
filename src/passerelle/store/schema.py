"""The schema, described with SQLAlchemy Core (migrations in `migrations/`).

Times are unix epoch seconds (float) on every backend. Money is whole credits.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# ids of the tables that grow with traffic: 64-bit on PostgreSQL (migration 0010: a
# 32-bit sequence runs out after 2 billion rows, which retention never gives back);
# SQLite keeps INTEGER PRIMARY KEY, its 64-bit rowid
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("api_password_hash", Text, nullable=False),
    Column("console_password_hash", Text, nullable=True),
    Column("activated", Boolean, nullable=False),
    Column("gateway_enabled", Boolean, nullable=False),
    Column("suspended", Boolean, nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("rate_limit", Float, nullable=True),
    Column("callback_url", Text, nullable=True),
    Column("callback_method", String(4), nullable=False),
    Column("callback_secret", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    CheckConstraint("credits >= 0", name="credits_not_negative"),
)

messages = Table(
    "messages",
    metadata,
    Column("msgid", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("sender", String(15), nullable=False),
    Column("sender_type", SmallInteger, nullable=False),
    Column("text", Text, nullable=False),
    Column("flash", Boolean, nullable=False),
    Column("callback", Boolean, nullable=False),
    Column("recipient_count", Integer, nullable=False),
    Column("cost", Integer, nullable=False),
    # the reservation of the JSON API's Idempotency-Key it was sent under: the key and
    # the row's generation (core.idempotency.message_ref)
    Column("idem_key", String(272), nullable=True),  # core.idempotency.MAX_REF_LENGTH
    Index("messages_account_created", "account_id", "created_at"),  # also the purge's
    # partial: a message sent without a key (the legacy API's) costs no index entry;
    # unique: a second owner of one reservation cannot store a second message
    Index(
        "messages_idem_key",
        "account_id",
        "idem_key",
        unique=True,
        sqlite_where=text("idem_key IS NOT NULL"),
        postgresql_where=text("idem_key IS NOT NULL"),
    ),
)

recipients = Table(
    "recipients",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("msgid", BigInteger, ForeignKey("messages.msgid"), nullable=False),
    Column("dest", String(15), nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float, nullable=True),
    Column("connector", String(64), nullable=True),
    Column("smsc_id", String(64), nullable=True),
    Column("submitted_at", Float, nullable=True),
    Column("final_at", Float, nullable=True),
    Column("stat", String(16), nullable=True),
    Column("err", String(16), nullable=True),
    Column("reclaims", Integer, nullable=False, server_default="0"),
    UniqueConstraint("msgid", "dest", name="recipients_msgid_dest"),
    # partial (0016): the claim's index holds queued recipients only (queries must write
    # `state = 0` out for SQLite to use it), the receipts' only those with an operator id
    Index(
        "recipients_queued",
        "next_attempt_at",
        sqlite_where=text("state = 0"),
        postgresql_where=text("state = 0"),
    ),
    Index(
        "recipients_smsc_id",
        "smsc_id",
        sqlite_where=text("smsc_id IS NOT NULL"),
        postgresql_where=text("smsc_id IS NOT NULL"),
    ),
    # the receipt deadline's: submitted recipients only (state 1), by submit time
    Index(
        "recipients_awaiting_receipt",
        "submitted_at",
        sqlite_where=text("state = 1"),
        postgresql_where=text("state = 1"),
    ),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("delta", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("msgid", BigInteger, nullable=True),
    Index("ledger_account", "account_id", "id"),
)

connectors = Table(
    "connectors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("system_id", String(16), nullable=False),
    Column("password", String(9), nullable=False),
    Column("system_type", String(13), nullable=False, server_default=""),
    Column("bind_mode", String(8), nullable=False, server_default="trx"),
    Column("window", Integer, nullable=False, server_default="10"),
    Column("throughput", Float, nullable=False, server_default="0"),
    Column("enquire_link_s", Float, nullable=False, server_default="30"),
    Column("id_mode", String(16), nullable=False, server_default="as-is"),
    Column("coding", String(8), nullable=False, server_default="gsm"),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", Float, nullable=False),
)

routes = Table(
    "routes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("prefix", String(15), nullable=False),
    Column("connectors", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

pending_receipts = Table(
    "pending_receipts",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("connector", String(64), nullable=False),
    Column("smsc_id", String(64), nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("stat", String(16), nullable=False),
    Column("err", String(16), nullable=True),
    Column("received_at", Float, nullable=False),
    Index("pending_receipts_id", "connector", "smsc_id"),
    Index("pending_receipts_received", "received_at"),
)

callback_events = Table(
    "callback_events",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("msgid", BigInteger, nullable=False),
    Column("dest", String(15), nullable=False),
    Column("statut", SmallInteger, nullable=False),
    Column("stat", String(16), nullable=False),
    Column("err", String(16), nullable=True),
    Column("occurred_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", Float, nullable=True),
    Index("callback_events_due", "state", "next_attempt_at"),
    Index("callback_events_account", "account_id", "id"),
    Index("callback_events_msgid", "msgid"),
    # ids are sent to receivers as `event_id`: never reused, even once old rows are purged
    sqlite_autoincrement=True,
)

callback_attempts = Table(
    "callback_attempts",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("event_id", BIG_ID, ForeignKey("callback_events.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("status", Integer, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("error", Text, nullable=True),
    Index("callback_attempts_event", "event_id"),
)

# failed-login limits shared by every process (store/sqlite_logins.py)
login_counters = Table(
    "login_counters",
    metadata,
    Column("key", String(300), primary_key=True),  # "l:<login>" or "a:<address>"
    Column("start", Float, nullable=False),
    Column("count", Integer, nullable=False),
    Index("login_counters_start", "start"),  # the sweep of old windows
    Index("login_counters_count", "count", "start"),  # who is at a limit
)

login_known = Table(
    "login_known",
    metadata,
    Column("login", String(64), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("at", Float, nullable=False),
    Index("login_known_at", "at"),
)

# which process binds each connector, on a lease (store/sqlite_owners.py)
connector_owners = Table(
    "connector_owners",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("until", Float, nullable=False),
    Column("bound", Boolean, nullable=False),
    # window use as of the owner's last refresh: submits awaiting their response, window
    Column("in_use", Integer, nullable=False, server_default="0"),
    Column("window", Integer, nullable=False, server_default="0"),
    Index("connector_owners_owner", "owner"),
)

# delivery processes alive, on a lease: they share the connectors out (core/ownership.py)
delivery_workers = Table(
    "delivery_workers",
    metadata,
    Column("owner", String(200), primary_key=True),
    Column("until", Float, nullable=False),
)

# request-rate windows shared by every process (core.ratelimit.request_window);
# UNLOGGED on PostgreSQL (migration 0009): nothing in it needs to survive a crash
request_counters = Table(
    "request_counters",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("start", Float, nullable=False),
    Column("count", Integer, nullable=False),
)

# the e-mail outbox (store/sqlite_mail.py): queued in a transaction, sent by the mail
# sender (mail/sender.py) on a lease, retried with backoff until a horizon
mails = Table(
    "mails",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("to_addr", String(254), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("state", String(8), nullable=False),  # core.values.MailState
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float, nullable=True),
    Column("sent_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("mails_due", "state", "next_attempt_at"),
)

# the web console (store/sqlite_console.py): sessions and one-time links hold the
# SHA-256 of their token (core.console.token_digest), never the token
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # core.console.Role
    Column("login", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("console_sessions_login", "role", "login"),
    Index("console_sessions_expires", "expires_at"),
)

console_links = Table(
    "console_links",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("purpose", String(16), nullable=False),  # core.console.LinkPurpose
    Column("login", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Index("console_links_expires", "expires_at"),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# an account's contacts and groups (store/sqlite_directory.py)
contacts = Table(
    "contacts",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("number", String(15), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "number", name="contacts_account_number"),
)

contact_groups = Table(
    "contact_groups",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "name", name="contact_groups_account_name"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", BIG_ID, ForeignKey("contact_groups.id"), primary_key=True),
    Column("contact_id", BIG_ID, ForeignKey("contacts.id"), primary_key=True),
    Index("group_members_contact", "contact_id"),
)

# API keys of the JSON API (store/sqlite_keys.py): the SHA-256 of each key, never the key
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Index("api_keys_account", "account_id", "id"),
)

# Idempotency-Key of the JSON API (store/sqlite_idempotency.py): the request's digest, a
# lease while the first request is sent (pending), then its answer (done)
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(8), nullable=False),
    Column("claimed_until", Float, nullable=True),
    Column("msgid", BigInteger, nullable=True),
    Column("error_code", String(2), nullable=True),
    Column("created_at", Float, nullable=False),
    # random at insert, kept by a take-over: the reservation the message carries
    Column("generation", String(16), nullable=False),
    Index("idempotency_keys_created", "created_at"),
)
