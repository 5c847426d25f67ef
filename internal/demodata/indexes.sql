-- Keys and indexes of the demo ERP tables, added after the load (faster than maintaining them
-- row by row). One statement per blank-line-separated block; the blocks run concurrently.
-- Every index leads with tenant_id, so every per-tenant query is an index scan.

ALTER TABLE tenants ADD PRIMARY KEY (id);

ALTER TABLE chart_of_accounts ADD PRIMARY KEY (tenant_id, id);
CREATE UNIQUE INDEX chart_of_accounts_tenant_code_key ON chart_of_accounts (tenant_id, code);

ALTER TABLE financial_periods ADD PRIMARY KEY (tenant_id, id);
CREATE UNIQUE INDEX financial_periods_tenant_start_key ON financial_periods (tenant_id, start_date);

ALTER TABLE crm_pipeline_stages ADD PRIMARY KEY (tenant_id, id);

ALTER TABLE facilities ADD PRIMARY KEY (tenant_id, id);

ALTER TABLE work_centers ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX work_centers_tenant_facility_idx ON work_centers (tenant_id, facility_id);

ALTER TABLE exchange_rates ADD PRIMARY KEY (tenant_id, id);
CREATE UNIQUE INDEX exchange_rates_tenant_pair_date_key ON exchange_rates (tenant_id, from_currency, to_currency, rate_date);

ALTER TABLE vendors ADD PRIMARY KEY (tenant_id, id);
CREATE UNIQUE INDEX vendors_tenant_code_key ON vendors (tenant_id, code);

ALTER TABLE customers ADD PRIMARY KEY (tenant_id, id);
CREATE UNIQUE INDEX customers_tenant_code_key ON customers (tenant_id, code);

ALTER TABLE materials ADD PRIMARY KEY (tenant_id, id);
CREATE UNIQUE INDEX materials_tenant_sku_key ON materials (tenant_id, sku);

ALTER TABLE inventory_locations ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX inventory_locations_tenant_facility_idx ON inventory_locations (tenant_id, facility_id);

ALTER TABLE bins ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX bins_tenant_facility_idx ON bins (tenant_id, facility_id);

ALTER TABLE equipment ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX equipment_tenant_facility_status_idx ON equipment (tenant_id, facility_id, status);

ALTER TABLE kit_definitions ADD PRIMARY KEY (tenant_id, id);

ALTER TABLE kit_components ADD PRIMARY KEY (tenant_id, kit_id, line_no);

ALTER TABLE pricing_rules ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX pricing_rules_tenant_valid_from_idx ON pricing_rules (tenant_id, valid_from);

ALTER TABLE gl_entries ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX gl_entries_tenant_date_idx ON gl_entries (tenant_id, entry_date);
CREATE INDEX gl_entries_tenant_journal_idx ON gl_entries (tenant_id, journal_id);
