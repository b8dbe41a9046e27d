-- The chat-bots (docs/chatbots.md; sqlite flavour, kept in step with the
-- other): the messenger accounts that talk to the bot and their
-- conversations, the cards they filed, the updates already taken, and the
-- messages to send.

-- A Telegram or Viber account: where to write to it, the phone it shared
-- with the messenger's button, its conversation (the machine's state, as
-- JSON) and the street it follows.
CREATE TABLE chatbot_accounts (
    messenger    TEXT NOT NULL CONSTRAINT chatbot_accounts_messenger CHECK (messenger IN ('telegram', 'viber')),
    account      TEXT NOT NULL CONSTRAINT chatbot_accounts_account_not_blank CHECK (trim(account) <> ''),
    chat         TEXT NOT NULL,
    phone        TEXT,
    conversation TEXT NOT NULL DEFAULT '{}',
    street       TEXT,
    -- Viber's "unsubscribed": nothing can be sent until it writes again.
    reachable    INTEGER NOT NULL DEFAULT 1 CONSTRAINT chatbot_accounts_reachable CHECK (reachable IN (0, 1)),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (messenger, account)
) STRICT;

CREATE INDEX chatbot_accounts_phone ON chatbot_accounts (phone);

-- A card filed through the bot, and the account that filed it.
CREATE TABLE chatbot_cards (
    appeal_id  TEXT NOT NULL PRIMARY KEY REFERENCES appeals (id) ON DELETE CASCADE,
    messenger  TEXT NOT NULL,
    account    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    FOREIGN KEY (messenger, account) REFERENCES chatbot_accounts (messenger, account)
) STRICT;

CREATE INDEX chatbot_cards_account ON chatbot_cards (messenger, account);

-- Updates already handled (a messenger sends one again when our answer was
-- late), kept a few days; and where Telegram's long polling goes on from.
CREATE TABLE chatbot_seen (
    messenger TEXT NOT NULL,
    update_id TEXT NOT NULL,
    seen_at   TEXT NOT NULL,
    PRIMARY KEY (messenger, update_id)
) STRICT;

CREATE TABLE chatbot_state (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Messages to send, sent in order per account, retried on 429 and 5xx.
-- `dedupe` makes a push once only (a card's step, a work to a street).
CREATE TABLE chatbot_outbox (
    id              TEXT NOT NULL PRIMARY KEY,
    messenger       TEXT NOT NULL,
    account         TEXT NOT NULL,
    -- The message (text, keyboard) as JSON.
    body            TEXT NOT NULL,
    dedupe          TEXT UNIQUE,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         TEXT,
    given_up_at     TEXT,
    last_error      TEXT,
    FOREIGN KEY (messenger, account) REFERENCES chatbot_accounts (messenger, account)
) STRICT;

CREATE INDEX chatbot_outbox_due ON chatbot_outbox (next_attempt_at) WHERE sent_at IS NULL AND given_up_at IS NULL;
