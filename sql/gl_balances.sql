-- For the period containing today (UTC), the balance of each account and currency with
-- entries dated up to the period's end: opening balance (entries before the period), the
-- period's debits and credits, and the closing balance, ordered by account code then
-- currency. No period, no key; a period without entries gets [].
-- phase: medium
-- ttl: AGGREGATE
-- tables: financial_periods, gl_entries, chart_of_accounts
-- key: finance:gl_balances:{tenant}:year:{_year}:month:{_month}
-- value: list
WITH cur AS (
    SELECT p.fiscal_year, p.period_number, p.start_date, p.end_date
    FROM financial_periods p
    WHERE p.tenant_id = $1::text
      AND p.start_date <= (now() AT TIME ZONE 'UTC')::date
      AND p.end_date >= (now() AT TIME ZONE 'UTC')::date
    ORDER BY p.start_date DESC
    LIMIT 1
)
SELECT cur.fiscal_year AS "_year",
       cur.period_number AS "_month",
       b.id AS "accountId",
       b.code AS "accountCode",
       b.name AS "accountName",
       b.account_type AS "accountType",
       b.currency AS "currency",
       b.opening AS "openingBalance",
       b.debit AS "periodDebit",
       b.credit AS "periodCredit",
       b.opening + b.debit - b.credit AS "closingBalance"
FROM cur
LEFT JOIN LATERAL (
    SELECT a.id, a.code, a.name, a.account_type, s.currency, s.opening, s.debit, s.credit
    FROM (
        SELECT g.account_id,
               g.currency,
               coalesce(sum(g.debit - g.credit) FILTER (WHERE g.entry_date < cur.start_date), 0.00) AS opening,
               coalesce(sum(g.debit) FILTER (WHERE g.entry_date >= cur.start_date), 0.00) AS debit,
               coalesce(sum(g.credit) FILTER (WHERE g.entry_date >= cur.start_date), 0.00) AS credit
        FROM gl_entries g
        WHERE g.tenant_id = $1::text
          AND g.entry_date <= cur.end_date
        GROUP BY g.account_id, g.currency
    ) s
    JOIN chart_of_accounts a ON a.tenant_id = $1::text AND a.id = s.account_id
) b ON true
ORDER BY b.code, b.id, b.currency
