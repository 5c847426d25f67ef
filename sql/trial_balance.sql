-- trial_balance: finance:trial_balance:{t}:year:{Y}:month:{M}:currency:{C} -> for the period
-- containing today (UTC) and the period before it, the trial balance in the tenant's base
-- currency {C}: per account with entries in that currency dated up to the period's end, the total
-- debit, total credit and balance (debit - credit), ordered by account code. {Y} and {M} are the
-- period's fiscal year and number (month 1..12, not zero-padded).
-- A list of typed rows per period (catalog.List): a period without entries gets one row of
-- NULLs, and so [].
WITH periods AS (
    SELECT p.fiscal_year, p.period_number, p.start_date, p.end_date, t.base_currency
    FROM financial_periods p
    JOIN tenants t ON t.id = p.tenant_id
    WHERE p.tenant_id = $1::text
      AND p.start_date <= (now() AT TIME ZONE 'UTC')::date
    ORDER BY p.start_date DESC
    LIMIT 2
)
SELECT 'finance:trial_balance' AS prefix,
       'year:' || p.fiscal_year || ':month:' || p.period_number || ':currency:' || p.base_currency AS suffix,
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
