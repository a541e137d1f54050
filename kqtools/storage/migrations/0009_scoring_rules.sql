-- 0009 scoring rules as published (issue 14 items 1-7): the metric fields that groups and
-- adjustments (加分项 / 减分项) read, the revocation of a designation, and what a run needs to be
-- explained later: the credit list version its blacklist veto used, and the district each firm
-- was ranked in when the rules grade every district on its own.

-- New metrics of the year (schemas/metrics.schema.json); booleans are 0/1, NULL = not given.
ALTER TABLE metrics ADD COLUMN key_polluter INTEGER;          -- 重点排污单位: the firm is on the key polluter list (1/0)
ALTER TABLE metrics ADD COLUMN renter INTEGER;                -- 租赁企业: produces on rented premises; land_mu is the rented area (1/0)
ALTER TABLE metrics ADD COLUMN rented_out_mu REAL;            -- 出租面积: land the firm rents out to others, in mu
ALTER TABLE metrics ADD COLUMN safety_incident INTEGER;       -- a (general, not major) safety incident in the year (1/0)
ALTER TABLE metrics ADD COLUMN env_penalty REAL;              -- environmental penalties of the year, in 万元
ALTER TABLE metrics ADD COLUMN emissions_over_quota INTEGER;  -- 超总量排污: main pollutants above the permitted total (1/0)

-- The version history of metrics (0006) keeps the new fields too, so `kq score explain` of a run
-- recomputes its adjustments from the values the run read. Versions saved before 0009 have NULL
-- here: the fields did not exist then.
ALTER TABLE metrics_versions ADD COLUMN key_polluter INTEGER;   -- the old values, as in metrics
ALTER TABLE metrics_versions ADD COLUMN renter INTEGER;
ALTER TABLE metrics_versions ADD COLUMN rented_out_mu REAL;
ALTER TABLE metrics_versions ADD COLUMN safety_incident INTEGER;
ALTER TABLE metrics_versions ADD COLUMN env_penalty REAL;
ALTER TABLE metrics_versions ADD COLUMN emissions_over_quota INTEGER;

DROP TRIGGER metrics_keep_version;
CREATE TRIGGER metrics_keep_version BEFORE UPDATE ON metrics
WHEN (OLD.land_mu IS NOT NEW.land_mu OR OLD.revenue IS NOT NEW.revenue OR OLD.tax IS NOT NEW.tax
  OR OLD.value_added IS NOT NEW.value_added OR OLD.energy_tce IS NOT NEW.energy_tce
  OR OLD.electricity_kwh IS NOT NEW.electricity_kwh OR OLD.emissions_t IS NOT NEW.emissions_t
  OR OLD.rd_expense IS NOT NEW.rd_expense OR OLD.employees IS NOT NEW.employees
  OR OLD.incident IS NOT NEW.incident OR OLD.key_polluter IS NOT NEW.key_polluter
  OR OLD.renter IS NOT NEW.renter OR OLD.rented_out_mu IS NOT NEW.rented_out_mu
  OR OLD.safety_incident IS NOT NEW.safety_incident OR OLD.env_penalty IS NOT NEW.env_penalty
  OR OLD.emissions_over_quota IS NOT NEW.emissions_over_quota OR OLD.batch_id IS NOT NEW.batch_id
  OR OLD.uscc IS NOT NEW.uscc OR OLD.year IS NOT NEW.year)
  AND EXISTS (SELECT 1 FROM scoring_runs WHERE year = OLD.year)   -- only a run of that year can need it
BEGIN
    INSERT INTO metrics_versions (replaced_at, change, uscc, year, land_mu, revenue, tax, value_added, energy_tce,
                                  electricity_kwh, emissions_t, rd_expense, employees, incident, key_polluter, renter,
                                  rented_out_mu, safety_incident, env_penalty, emissions_over_quota, batch_id)
    VALUES (datetime('now'), 'update', OLD.uscc, OLD.year, OLD.land_mu, OLD.revenue, OLD.tax, OLD.value_added,
            OLD.energy_tce, OLD.electricity_kwh, OLD.emissions_t, OLD.rd_expense, OLD.employees, OLD.incident,
            OLD.key_polluter, OLD.renter, OLD.rented_out_mu, OLD.safety_incident, OLD.env_penalty,
            OLD.emissions_over_quota, OLD.batch_id);
END;

DROP TRIGGER metrics_keep_deleted;
CREATE TRIGGER metrics_keep_deleted BEFORE DELETE ON metrics
WHEN EXISTS (SELECT 1 FROM scoring_runs WHERE year = OLD.year)
BEGIN
    INSERT INTO metrics_versions (replaced_at, change, uscc, year, land_mu, revenue, tax, value_added, energy_tce,
                                  electricity_kwh, emissions_t, rd_expense, employees, incident, key_polluter, renter,
                                  rented_out_mu, safety_incident, env_penalty, emissions_over_quota, batch_id)
    VALUES (datetime('now'), 'delete', OLD.uscc, OLD.year, OLD.land_mu, OLD.revenue, OLD.tax, OLD.value_added,
            OLD.energy_tce, OLD.electricity_kwh, OLD.emissions_t, OLD.rd_expense, OLD.employees, OLD.incident,
            OLD.key_polluter, OLD.renter, OLD.rented_out_mu, OLD.safety_incident, OLD.env_penalty,
            OLD.emissions_over_quota, OLD.batch_id);
END;

-- 撤销 / 取消认定: the day a designation stopped being in force before its expiry (NULL = never revoked).
-- A designation is in force on D when recognized_on <= D <= expires_on and (revoked_on IS NULL or D < revoked_on).
ALTER TABLE designations ADD COLUMN revoked_on TEXT;

-- What the run's blacklist veto used: the date the blacklist was taken as of (the rules' credit_as_of,
-- default the last day of the evaluation year, or --credit-as-of) and the credit list version with that
-- as-of date (found, or built for the run). NULL: the veto was off, or a run stored before 0009.
ALTER TABLE scoring_runs ADD COLUMN credit_as_of TEXT;
ALTER TABLE scoring_runs ADD COLUMN credit_version INTEGER;
-- The rules' scope: 'all' (one evaluation) or 'district' (each district its own: benchmarks, ranks,
-- grade bands). NULL for runs stored before 0009 ('all').
ALTER TABLE scoring_runs ADD COLUMN scope TEXT;
-- With scope 'district': JSON {district: {group id: {grade: n}}}; else NULL.
ALTER TABLE scoring_runs ADD COLUMN scope_counts TEXT;

-- The district a firm was ranked in (scope 'district'); NULL for an unscoped run and for class T.
ALTER TABLE scoring_results ADD COLUMN scope TEXT;
-- JSON list of what each adjustment did for the firm: {item, category, status (applied, not_added,
-- left_out, capped), points, uplift, reason}; NULL when nothing applied or was left out. Metric items
-- that did not apply are not stored: `kq score explain` recomputes them from the run's inputs.
ALTER TABLE scoring_results ADD COLUMN adjustments TEXT;
