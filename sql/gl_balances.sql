-- gl_balances: finance:gl_balances:{t}:year:{Y}:month:{M} -> for the period containing today
-- (UTC), the balance of each account and currency with entries dated up to the period's end:
-- opening balance (entries before the period), the period's debits and credits, and the closing
-- balance, ordered by account code then currency. No period, no key.
WITH cur AS (
    SELECT p.fiscal_year, p.period_number, p.start_date, p.end_date
    FROM financial_periods p
    WHERE p.tenant_id = $1::text
      AND p.start_date <= (now() AT TIME ZONE 'UTC')::date
      AND p.end_date >= (now() AT TIME ZONE 'UTC')::date
    ORDER BY p.start_date DESC
    LIMIT 1
)
SELECT 'finance:gl_balances' AS prefix,
       'year:' || cur.fiscal_year || ':month:' || cur.period_number AS suffix,
       coalesce((
           SELECT '[' || string_agg(row_to_json(x)::text, ',' ORDER BY a.code, a.id, s.currency) || ']'
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
           CROSS JOIN LATERAL (
               SELECT a.id::text AS "accountId",
                      a.code AS "accountCode",
                      a.name AS "accountName",
                      a.account_type AS "accountType",
                      s.currency AS "currency",
                      s.opening::text AS "openingBalance",
                      s.debit::text AS "periodDebit",
                      s.credit::text AS "periodCredit",
                      (s.opening + s.debit - s.credit)::text AS "closingBalance"
           ) x
       ), '[]') AS value
FROM cur
