-- The demo ERP tables, created without keys or indexes: indexes.sql adds them after the load.
-- Run with search_path set to the target schema only, so every name resolves there.
-- Every table but tenants has tenant_id; ids are per tenant, starting at 1.

CREATE TABLE tenants (
    id            text        NOT NULL,
    name          text        NOT NULL,
    base_currency text        NOT NULL,
    country       text        NOT NULL,
    active        boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE chart_of_accounts (
    tenant_id      text        NOT NULL,
    id             bigint      NOT NULL,
    code           text        NOT NULL,
    name           text        NOT NULL,
    account_type   text        NOT NULL,
    normal_balance text        NOT NULL,
    parent_code    text,
    level          integer     NOT NULL,
    is_postable    boolean     NOT NULL,
    currency       text,
    is_active      boolean     NOT NULL,
    description    text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE financial_periods (
    tenant_id     text        NOT NULL,
    id            bigint      NOT NULL,
    fiscal_year   integer     NOT NULL,
    period_number integer     NOT NULL,
    name          text        NOT NULL,
    start_date    date        NOT NULL,
    end_date      date        NOT NULL,
    status        text        NOT NULL,
    closed_at     timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE crm_pipeline_stages (
    tenant_id   text        NOT NULL,
    id          bigint      NOT NULL,
    name        text        NOT NULL,
    position    integer     NOT NULL,
    probability integer     NOT NULL,
    is_won      boolean     NOT NULL,
    is_lost     boolean     NOT NULL,
    color       text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE facilities (
    tenant_id     text        NOT NULL,
    id            bigint      NOT NULL,
    code          text        NOT NULL,
    name          text        NOT NULL,
    facility_type text        NOT NULL,
    city          text        NOT NULL,
    country       text        NOT NULL,
    timezone      text        NOT NULL,
    is_active     boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE work_centers (
    tenant_id         text          NOT NULL,
    id                bigint        NOT NULL,
    facility_id       bigint        NOT NULL,
    code              text          NOT NULL,
    name              text          NOT NULL,
    center_type       text          NOT NULL,
    capacity_per_hour numeric(18,2) NOT NULL,
    efficiency_pct    numeric(5,2)  NOT NULL,
    cost_per_hour     numeric(18,2) NOT NULL,
    is_active         boolean       NOT NULL,
    created_at        timestamptz   NOT NULL,
    updated_at        timestamptz   NOT NULL
);

CREATE TABLE exchange_rates (
    tenant_id     text          NOT NULL,
    id            bigint        NOT NULL,
    from_currency text          NOT NULL,
    to_currency   text          NOT NULL,
    rate          numeric(18,6) NOT NULL,
    rate_date     date          NOT NULL,
    source        text          NOT NULL,
    created_at    timestamptz   NOT NULL
);

CREATE TABLE vendors (
    tenant_id          text          NOT NULL,
    id                 bigint        NOT NULL,
    code               text          NOT NULL,
    name               text          NOT NULL,
    legal_name         text,
    tax_id             text,
    email              text,
    phone              text,
    country            text          NOT NULL,
    currency           text          NOT NULL,
    payment_terms_days integer       NOT NULL,
    credit_limit       numeric(18,2) NOT NULL,
    rating             integer,
    is_active          boolean       NOT NULL,
    notes              text,
    created_at         timestamptz   NOT NULL,
    updated_at         timestamptz   NOT NULL
);

CREATE TABLE customers (
    tenant_id          text          NOT NULL,
    id                 bigint        NOT NULL,
    code               text          NOT NULL,
    name               text          NOT NULL,
    email              text,
    phone              text,
    country            text          NOT NULL,
    currency           text          NOT NULL,
    segment            text          NOT NULL,
    credit_limit       numeric(18,2) NOT NULL,
    balance            numeric(18,2) NOT NULL,
    payment_terms_days integer       NOT NULL,
    is_active          boolean       NOT NULL,
    notes              text,
    created_at         timestamptz   NOT NULL,
    updated_at         timestamptz   NOT NULL
);

CREATE TABLE materials (
    tenant_id     text          NOT NULL,
    id            bigint        NOT NULL,
    sku           text          NOT NULL,
    name          text          NOT NULL,
    description   text,
    category      text          NOT NULL,
    uom           text          NOT NULL,
    standard_cost numeric(18,6) NOT NULL,
    list_price    numeric(18,2) NOT NULL,
    weight_kg     numeric(18,6),
    is_stocked    boolean       NOT NULL,
    is_active     boolean       NOT NULL,
    notes         text,
    created_at    timestamptz   NOT NULL,
    updated_at    timestamptz   NOT NULL
);

CREATE TABLE inventory_locations (
    tenant_id     text        NOT NULL,
    id            bigint      NOT NULL,
    facility_id   bigint      NOT NULL,
    code          text        NOT NULL,
    name          text        NOT NULL,
    location_type text        NOT NULL,
    parent_id     bigint,
    is_pickable   boolean     NOT NULL,
    is_active     boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE bins (
    tenant_id       text        NOT NULL,
    id              bigint      NOT NULL,
    facility_id     bigint      NOT NULL,
    location_id     bigint      NOT NULL,
    code            text        NOT NULL,
    capacity_units  integer     NOT NULL,
    used_units      integer     NOT NULL,
    status          text        NOT NULL,
    last_counted_at timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE equipment (
    tenant_id           text          NOT NULL,
    id                  bigint        NOT NULL,
    facility_id         bigint        NOT NULL,
    work_center_id      bigint,
    code                text          NOT NULL,
    name                text          NOT NULL,
    equipment_type      text          NOT NULL,
    manufacturer        text,
    status              text          NOT NULL,
    health_score        numeric(5,2)  NOT NULL,
    operating_hours     numeric(18,2) NOT NULL,
    installed_on        date          NOT NULL,
    last_maintenance_at timestamptz,
    next_maintenance_on date,
    created_at          timestamptz   NOT NULL,
    updated_at          timestamptz   NOT NULL
);

CREATE TABLE kit_definitions (
    tenant_id   text          NOT NULL,
    id          bigint        NOT NULL,
    code        text          NOT NULL,
    name        text          NOT NULL,
    description text,
    kit_price   numeric(18,2) NOT NULL,
    is_active   boolean       NOT NULL,
    created_at  timestamptz   NOT NULL,
    updated_at  timestamptz   NOT NULL
);

CREATE TABLE kit_components (
    tenant_id   text          NOT NULL,
    kit_id      bigint        NOT NULL,
    line_no     integer       NOT NULL,
    material_id bigint        NOT NULL,
    quantity    numeric(18,6) NOT NULL,
    is_optional boolean       NOT NULL,
    created_at  timestamptz   NOT NULL
);

CREATE TABLE pricing_rules (
    tenant_id    text          NOT NULL,
    id           bigint        NOT NULL,
    name         text          NOT NULL,
    rule_type    text          NOT NULL,
    material_id  bigint,
    customer_id  bigint,
    min_quantity numeric(18,6) NOT NULL,
    value        numeric(18,6) NOT NULL,
    currency     text,
    priority     integer       NOT NULL,
    valid_from   date          NOT NULL,
    valid_to     date,
    is_active    boolean       NOT NULL,
    created_at   timestamptz   NOT NULL,
    updated_at   timestamptz   NOT NULL
);

CREATE TABLE gl_entries (
    tenant_id   text          NOT NULL,
    id          bigint        NOT NULL,
    journal_id  bigint        NOT NULL,
    line_no     integer       NOT NULL,
    entry_date  date          NOT NULL,
    period_id   bigint        NOT NULL,
    account_id  bigint        NOT NULL,
    debit       numeric(18,2) NOT NULL,
    credit      numeric(18,2) NOT NULL,
    currency    text          NOT NULL,
    source      text          NOT NULL,
    description text,
    created_at  timestamptz   NOT NULL
);
