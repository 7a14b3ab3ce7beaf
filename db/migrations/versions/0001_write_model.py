"""Write model: one schema per bounded context, the capture publication, signaling and heartbeat.

Replica identity: every captured table keeps REPLICA IDENTITY DEFAULT (its primary key). The sinks
rebuild documents from the master, so an event needs only the keys that name the affected roots, and
every child table's primary key contains its root's id (stock: location_id + meal_id; order_lines:
order_id). FULL would log whole old rows for nothing (inventory.stock has it since 0003, for the catalog's
levels).

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE SCHEMA catalog;
    CREATE SCHEMA inventory;
    CREATE SCHEMA ordering;
    CREATE SCHEMA subscription;
    CREATE SCHEMA platform;

    -- catalog ---------------------------------------------------------------------------------
    CREATE TABLE catalog.meals (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        description   text NOT NULL DEFAULT '' CHECK (char_length(description) <= 20000),
        ingredients   text[] NOT NULL DEFAULT '{}',
        allergens     text[] NOT NULL DEFAULT '{}',
        dietary_tags  text[] NOT NULL DEFAULT '{}',
        calories      integer NOT NULL CHECK (calories BETWEEN 0 AND 5000),
        protein_g     integer NOT NULL DEFAULT 0 CHECK (protein_g BETWEEN 0 AND 500),
        carbs_g       integer NOT NULL DEFAULT 0 CHECK (carbs_g BETWEEN 0 AND 500),
        fat_g         integer NOT NULL DEFAULT 0 CHECK (fat_g BETWEEN 0 AND 500),
        price_cents   integer NOT NULL CHECK (price_cents BETWEEN 0 AND 1000000),
        status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'retired')),
        version       integer NOT NULL DEFAULT 1,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
    );

    -- inventory -------------------------------------------------------------------------------
    CREATE TABLE inventory.locations (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
        name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        kind        text NOT NULL CHECK (kind IN ('smart_fridge', 'kiosk', 'restaurant')),
        address     text NOT NULL DEFAULT '' CHECK (char_length(address) <= 500),
        city        text NOT NULL CHECK (char_length(city) BETWEEN 1 AND 100),
        latitude    double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
        longitude   double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
        status      text NOT NULL,
        version     integer NOT NULL DEFAULT 1,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT location_status_fits_kind CHECK (
            (kind = 'smart_fridge' AND status IN
                ('installed_off', 'online', 'offline', 'out_of_order', 'maintenance', 'decommissioned'))
            OR (kind IN ('kiosk', 'restaurant') AND status IN ('open', 'closed_temporarily', 'closed'))
        )
    );

    CREATE TABLE inventory.stock (
        location_id  uuid NOT NULL REFERENCES inventory.locations (id),
        meal_id      uuid NOT NULL REFERENCES catalog.meals (id),
        on_hand      integer NOT NULL DEFAULT 0 CONSTRAINT stock_on_hand_not_negative CHECK (on_hand >= 0),
        reserved     integer NOT NULL DEFAULT 0 CONSTRAINT stock_reserved_not_negative CHECK (reserved >= 0),
        version      integer NOT NULL DEFAULT 1,
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (location_id, meal_id),
        CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand)
    );
    CREATE INDEX stock_meal_idx ON inventory.stock (meal_id);

    -- Append-only ledger of every on_hand change; for each (location, meal) it sums to on_hand.
    CREATE TABLE inventory.adjustments (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        location_id  uuid NOT NULL,
        meal_id      uuid NOT NULL,
        delta        integer NOT NULL CHECK (delta <> 0),
        reason       text NOT NULL CHECK (reason IN
                        ('replenish', 'remove', 'expired', 'damaged', 'count', 'sale', 'correction')),
        actor        text NOT NULL,
        note         text CHECK (char_length(note) <= 500),
        order_id     uuid,
        created_at   timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (location_id, meal_id) REFERENCES inventory.stock (location_id, meal_id)
    );
    CREATE INDEX adjustments_stock_idx ON inventory.adjustments (location_id, meal_id);

    CREATE FUNCTION inventory.refuse_ledger_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'inventory.adjustments is append-only' USING ERRCODE = 'restrict_violation';
    END $$;
    CREATE TRIGGER adjustments_append_only BEFORE UPDATE OR DELETE ON inventory.adjustments
        FOR EACH ROW EXECUTE FUNCTION inventory.refuse_ledger_rewrite();

    -- ordering --------------------------------------------------------------------------------
    CREATE TABLE ordering.customers (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email       text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
        name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        version     integer NOT NULL DEFAULT 1,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX customers_email_key ON ordering.customers (lower(email));

    CREATE TABLE ordering.orders (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id   uuid NOT NULL REFERENCES ordering.customers (id),
        location_id   uuid NOT NULL REFERENCES inventory.locations (id),
        pickup_from   timestamptz NOT NULL,
        pickup_until  timestamptz NOT NULL,
        status        text NOT NULL DEFAULT 'placed'
                      CHECK (status IN ('placed', 'ready', 'picked_up', 'cancelled')),
        total_cents   integer NOT NULL CHECK (total_cents >= 0),
        version       integer NOT NULL DEFAULT 1,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pickup_window_ordered CHECK (pickup_until > pickup_from)
    );
    CREATE INDEX orders_customer_idx ON ordering.orders (customer_id);
    CREATE INDEX orders_location_idx ON ordering.orders (location_id);

    CREATE TABLE ordering.order_lines (
        order_id          uuid NOT NULL REFERENCES ordering.orders (id),
        line_no           smallint NOT NULL CHECK (line_no >= 1),
        meal_id           uuid NOT NULL REFERENCES catalog.meals (id),
        quantity          integer NOT NULL CHECK (quantity BETWEEN 1 AND 50),
        unit_price_cents  integer NOT NULL CHECK (unit_price_cents >= 0),
        PRIMARY KEY (order_id, line_no),
        UNIQUE (order_id, meal_id)
    );
    CREATE INDEX order_lines_meal_idx ON ordering.order_lines (meal_id);

    -- subscription ----------------------------------------------------------------------------
    CREATE TABLE subscription.plans (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,31}$'),
        name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        meals_per_week  integer NOT NULL CHECK (meals_per_week BETWEEN 1 AND 21),
        price_cents     integer NOT NULL CHECK (price_cents BETWEEN 0 AND 1000000),
        status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
        version         integer NOT NULL DEFAULT 1,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE subscription.subscriptions (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id       uuid NOT NULL REFERENCES ordering.customers (id),
        plan_id           uuid NOT NULL REFERENCES subscription.plans (id),
        location_id       uuid NOT NULL REFERENCES inventory.locations (id),
        status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'cancelled')),
        paused_until      date,
        next_delivery_on  date,
        version           integer NOT NULL DEFAULT 1,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT paused_has_end CHECK ((status = 'paused') = (paused_until IS NOT NULL))
    );
    CREATE INDEX subscriptions_customer_idx ON subscription.subscriptions (customer_id);
    CREATE INDEX subscriptions_location_idx ON subscription.subscriptions (location_id);
    CREATE INDEX subscriptions_plan_idx ON subscription.subscriptions (plan_id);

    -- platform: idempotency, capture heartbeat and signaling -------------------------------------
    CREATE TABLE platform.idempotency_keys (
        principal     text NOT NULL,
        key           text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
        method        text NOT NULL,
        path          text NOT NULL,
        request_hash  text NOT NULL,
        status_code   integer NOT NULL,
        response      jsonb NOT NULL,
        headers       jsonb NOT NULL DEFAULT '{}',
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (principal, key)
    );

    -- Written by Debezium's heartbeat.action.query so the slot advances while captured tables are quiet.
    CREATE TABLE platform.heartbeat (
        id       integer PRIMARY KEY,
        beat_at  timestamptz NOT NULL
    );

    -- Debezium's source signaling channel (e.g. execute-snapshot for an incremental snapshot).
    CREATE TABLE platform.debezium_signal (
        id    text PRIMARY KEY,
        type  text NOT NULL,
        data  text
    );

    CREATE PUBLICATION farmacy_views FOR TABLE
        catalog.meals, inventory.locations, inventory.stock,
        ordering.customers, ordering.orders, ordering.order_lines,
        subscription.plans, subscription.subscriptions,
        platform.heartbeat, platform.debezium_signal;
    """)


def downgrade() -> None:
    op.execute("""
    DROP PUBLICATION IF EXISTS farmacy_views;
    DROP SCHEMA platform, subscription, ordering, inventory, catalog CASCADE;
    """)
