-- For the period containing today (UTC) and the period before it, the trial balance in the
-- tenant's base currency: per account with entries in that currency dated up to the period's
-- end, the total debit, total credit and balance (debit - credit), ordered by account code.
-- {_month} is the period number (1..12, not zero-padded). A period without entries gets [].
-- The tenants table (base currency) is not in tables: a change of a tenant row re-warms that
-- tenant whole (tenants.sql).
-- phase: medium
-- ttl: AGGREGATE
-- tables: financial_periods, gl_entries, chart_of_accounts
-- key: finance:trial_balance:{tenant}:year:{_year}:month:{_month}:currency:{_currency}
-- value: list
WITH periods AS (
    SELECT p.fiscal_year, p.period_number, p.start_date, p.end_date, t.base_currency
    FROM financial_periods p
    JOIN tenants t ON t.id = p.tenant_id
    WHERE p.tenant_id = $1::text
      AND p.start_date <= (now() AT TIME ZONE 'UTC')::date
    ORDER BY p.start_date DESC
    LIMIT 2
)
SELECT p.fiscal_year AS "_year",
       p.period_number AS "_month",
       p.base_currency AS "_currency",
       b.id AS "accountId",
       b.code AS "accountCode",
       b.name AS "accountName",
       b.account_type AS "accountType",
       b.debit AS "debit",
       b.credit AS "credit",
       b.debit - b.credit AS "balance"
FROM periods p
LEFT JOIN LATERAL (
    SELECT a.id, a.code, a.name, a.account_type, s.debit, s.credit
    FROM (
        SELECT g.account_id, sum(g.debit) AS debit, sum(g.credit) AS credit
        FROM gl_entries g
        WHERE g.tenant_id = $1::text
          AND g.currency = p.base_currency
          AND g.entry_date <= p.end_date
        GROUP BY g.account_id
    ) s
    JOIN chart_of_accounts a ON a.tenant_id = $1::text AND a.id = s.account_id
) b ON true
ORDER BY p.start_date, b.code, b.id
