-- The chat-bots (docs/chatbots.md; postgres flavour, kept in step with the
-- other): the messenger accounts that talk to the bot and their
-- conversations, the cards they filed, the updates already taken, and the
-- messages to send.

-- A Telegram or Viber account: where to write to it, the phone it shared
-- with the messenger's button, its conversation (the machine's state, as
-- JSON) and the street it follows.
CREATE TABLE chatbot_accounts (
    messenger    text NOT NULL CONSTRAINT chatbot_accounts_messenger CHECK (messenger IN ('telegram', 'viber')),
    account      text NOT NULL CONSTRAINT chatbot_accounts_account_not_blank CHECK (trim(account) <> ''),
    chat         text NOT NULL,
    phone        text,
    conversation text NOT NULL DEFAULT '{}',
    street       text,
    -- Viber's "unsubscribed": nothing can be sent until it writes again.
    reachable    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (messenger, account)
);

CREATE INDEX chatbot_accounts_phone ON chatbot_accounts (phone);

-- A card filed through the bot, and the account that filed it.
CREATE TABLE chatbot_cards (
    appeal_id  uuid PRIMARY KEY REFERENCES appeals (id) ON DELETE CASCADE,
    messenger  text NOT NULL,
    account    text NOT NULL,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (messenger, account) REFERENCES chatbot_accounts (messenger, account)
);

CREATE INDEX chatbot_cards_account ON chatbot_cards (messenger, account);

-- Updates already handled (a messenger sends one again when our answer was
-- late), kept a few days; and where Telegram's long polling goes on from.
CREATE TABLE chatbot_seen (
    messenger text NOT NULL,
    update_id text NOT NULL,
    seen_at   timestamptz NOT NULL,
    PRIMARY KEY (messenger, update_id)
);

CREATE TABLE chatbot_state (
    name  text PRIMARY KEY,
    value text NOT NULL
);

-- Messages to send, sent in order per account, retried on 429 and 5xx.
-- `dedupe` makes a push once only (a card's step, a work to a street).
CREATE TABLE chatbot_outbox (
    id              uuid PRIMARY KEY,
    messenger       text NOT NULL,
    account         text NOT NULL,
    -- The message (text, keyboard) as JSON.
    body            text NOT NULL,
    dedupe          text UNIQUE,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    sent_at         timestamptz,
    given_up_at     timestamptz,
    last_error      text,
    FOREIGN KEY (messenger, account) REFERENCES chatbot_accounts (messenger, account)
);

CREATE INDEX chatbot_outbox_due ON chatbot_outbox (next_attempt_at) WHERE sent_at IS NULL AND given_up_at IS NULL;
