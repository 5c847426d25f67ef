-- trial_balance: finance:trial_balance:{t}:year:{Y}:month:{M}:currency:{C} -> for the period
-- containing today (UTC) and the period before it, the trial balance in the tenant's base
-- currency {C}: per account with entries in that currency dated up to the period's end, the total
-- debit, total credit and balance (debit - credit), ordered by account code. {Y} and {M} are the
-- period's fiscal year and number (month 1..12, not zero-padded).
-- A list of typed rows per period (catalog.List): a period without entries gets one row of
-- NULLs, and so [].
-- One pass over the tenant's entries sums each account for both periods at once (FILTER by each
-- period's end), then each period picks its own sums.
WITH periods AS (
    SELECT p.fiscal_year, p.period_number, p.start_date, p.end_date, t.base_currency
    FROM financial_periods p
    JOIN tenants t ON t.id = p.tenant_id
    WHERE p.tenant_id = $1::text
      AND p.start_date <= (now() AT TIME ZONE 'UTC')::date
    ORDER BY p.start_date DESC
    LIMIT 2
), sums AS MATERIALIZED (
    SELECT g.account_id,
           count(*) FILTER (WHERE g.entry_date <= b.first_end) AS first_n,
           sum(g.debit) FILTER (WHERE g.entry_date <= b.first_end) AS first_debit,
           sum(g.credit) FILTER (WHERE g.entry_date <= b.first_end) AS first_credit,
           count(*) FILTER (WHERE g.entry_date <= b.last_end) AS last_n,
           sum(g.debit) FILTER (WHERE g.entry_date <= b.last_end) AS last_debit,
           sum(g.credit) FILTER (WHERE g.entry_date <= b.last_end) AS last_credit
    FROM (SELECT min(end_date) AS first_end, max(end_date) AS last_end, min(base_currency) AS currency FROM periods) b
    JOIN gl_entries g ON g.tenant_id = $1::text AND g.currency = b.currency
    GROUP BY g.account_id
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
        SELECT account_id,
               CASE WHEN p.end_date = (SELECT max(end_date) FROM periods) THEN last_debit ELSE first_debit END AS debit,
               CASE WHEN p.end_date = (SELECT max(end_date) FROM periods) THEN last_credit ELSE first_credit END AS credit
        FROM sums
        WHERE CASE WHEN p.end_date = (SELECT max(end_date) FROM periods) THEN last_n ELSE first_n END > 0
    ) s
    JOIN chart_of_accounts a ON a.tenant_id = $1::text AND a.id = s.account_id
) b ON true
ORDER BY p.start_date, b.code, b.id
