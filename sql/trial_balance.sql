-- trial_balance: finance:trial_balance:{t}:year:{Y}:month:{M}:currency:{C} -> for the period
-- containing today (UTC) and the period before it, the trial balance in the tenant's base
-- currency {C}: per account with entries in that currency dated up to the period's end, the total
-- debit, total credit and balance (debit - credit), ordered by account code. {Y} and {M} are the
-- period's fiscal year and number (month 1..12, not zero-padded).
WITH periods AS (
    SELECT p.id, p.fiscal_year, p.period_number, p.end_date, t.base_currency
    FROM financial_periods p
    JOIN tenants t ON t.id = p.tenant_id
    WHERE p.tenant_id = $1::text
      AND p.start_date <= (now() AT TIME ZONE 'UTC')::date
    ORDER BY p.start_date DESC
    LIMIT 2
)
SELECT 'finance:trial_balance' AS prefix,
       'year:' || p.fiscal_year || ':month:' || p.period_number || ':currency:' || p.base_currency AS suffix,
       coalesce((
           SELECT '[' || string_agg(row_to_json(x)::text, ',' ORDER BY a.code, a.id) || ']'
           FROM (
               SELECT g.account_id, sum(g.debit) AS debit, sum(g.credit) AS credit
               FROM gl_entries g
               WHERE g.tenant_id = $1::text
                 AND g.currency = p.base_currency
                 AND g.entry_date <= p.end_date
               GROUP BY g.account_id
           ) s
           JOIN chart_of_accounts a ON a.tenant_id = $1::text AND a.id = s.account_id
           CROSS JOIN LATERAL (
               SELECT a.id::text AS "accountId",
                      a.code AS "accountCode",
                      a.name AS "accountName",
                      a.account_type AS "accountType",
                      s.debit::text AS "debit",
                      s.credit::text AS "credit",
                      (s.debit - s.credit)::text AS "balance"
           ) x
       ), '[]') AS value
FROM periods p
