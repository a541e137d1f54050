-- 0006 scoring speed: a scoring run no longer copies its raw inputs into every result row.
-- Instead, every change to a metrics or enterprises row keeps the values it replaces (copy on
-- write, by triggers, whichever program writes) once a run exists that may have read them (for
-- metrics: a run of that year), and a run records how far that history went when it read its inputs. `kq score explain` of a run then reads the version that was in force: the
-- first version saved after the run's mark, or the current row when nothing changed since.
-- Runs stored before this migration keep their inputs in scoring_results (inputs_as_of IS NULL).

-- Where a run's inputs can be found again: NULL = in its scoring_results rows (runs before 0006);
-- else JSON {"metrics_versions": id, "enterprise_versions": id, "batches": id}, the highest id of
-- each table when the run read its inputs (read in the same read transaction as the inputs).
ALTER TABLE scoring_runs ADD COLUMN inputs_as_of TEXT;

-- A metrics row as it was before an UPDATE that changed a field scoring reads (or its batch),
-- or before a DELETE. Unchanged re-imports (only seen_batch/seen_line written) save nothing.
CREATE TABLE metrics_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: runs compare against it
    replaced_at TEXT NOT NULL,     -- UTC time the row was changed or deleted (datetime('now'))
    change TEXT NOT NULL,          -- update / delete
    uscc TEXT NOT NULL,            -- the row's key before the change
    year INTEGER NOT NULL,
    land_mu REAL,                  -- the old values, as in metrics
    revenue REAL,
    tax REAL,
    value_added REAL,
    energy_tce REAL,
    electricity_kwh REAL,
    emissions_t REAL,
    rd_expense REAL,
    employees REAL,
    incident INTEGER,
    batch_id INTEGER               -- batches.id that had written the old values
);
CREATE INDEX metrics_versions_key ON metrics_versions(uscc, year, id);

CREATE TRIGGER metrics_keep_version BEFORE UPDATE ON metrics
WHEN (OLD.land_mu IS NOT NEW.land_mu OR OLD.revenue IS NOT NEW.revenue OR OLD.tax IS NOT NEW.tax
  OR OLD.value_added IS NOT NEW.value_added OR OLD.energy_tce IS NOT NEW.energy_tce
  OR OLD.electricity_kwh IS NOT NEW.electricity_kwh OR OLD.emissions_t IS NOT NEW.emissions_t
  OR OLD.rd_expense IS NOT NEW.rd_expense OR OLD.employees IS NOT NEW.employees
  OR OLD.incident IS NOT NEW.incident OR OLD.batch_id IS NOT NEW.batch_id
  OR OLD.uscc IS NOT NEW.uscc OR OLD.year IS NOT NEW.year)
  AND EXISTS (SELECT 1 FROM scoring_runs WHERE year = OLD.year)   -- only a run of that year can need it
BEGIN
    INSERT INTO metrics_versions (replaced_at, change, uscc, year, land_mu, revenue, tax, value_added, energy_tce,
                                  electricity_kwh, emissions_t, rd_expense, employees, incident, batch_id)
    VALUES (datetime('now'), 'update', OLD.uscc, OLD.year, OLD.land_mu, OLD.revenue, OLD.tax, OLD.value_added,
            OLD.energy_tce, OLD.electricity_kwh, OLD.emissions_t, OLD.rd_expense, OLD.employees, OLD.incident,
            OLD.batch_id);
END;

CREATE TRIGGER metrics_keep_deleted BEFORE DELETE ON metrics
WHEN EXISTS (SELECT 1 FROM scoring_runs WHERE year = OLD.year)
BEGIN
    INSERT INTO metrics_versions (replaced_at, change, uscc, year, land_mu, revenue, tax, value_added, energy_tce,
                                  electricity_kwh, emissions_t, rd_expense, employees, incident, batch_id)
    VALUES (datetime('now'), 'delete', OLD.uscc, OLD.year, OLD.land_mu, OLD.revenue, OLD.tax, OLD.value_added,
            OLD.energy_tce, OLD.electricity_kwh, OLD.emissions_t, OLD.rd_expense, OLD.employees, OLD.incident,
            OLD.batch_id);
END;

-- An enterprises row's scoring fields as they were before an UPDATE that changed one of them (or
-- its batch), or before a DELETE: size class (decides the group), industry code and founding
-- date (class T), and the batch that had written them.
CREATE TABLE enterprise_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: runs compare against it
    replaced_at TEXT NOT NULL,     -- UTC time the row was changed or deleted (datetime('now'))
    change TEXT NOT NULL,          -- update / delete
    uscc TEXT NOT NULL,            -- the row's key before the change
    size_class TEXT,               -- the old values, as in enterprises
    industry_code TEXT,
    founded_on TEXT,
    batch_id INTEGER               -- batches.id that had written the old values
);
CREATE INDEX enterprise_versions_key ON enterprise_versions(uscc, id);

CREATE TRIGGER enterprises_keep_version BEFORE UPDATE ON enterprises
WHEN (OLD.size_class IS NOT NEW.size_class OR OLD.industry_code IS NOT NEW.industry_code
  OR OLD.founded_on IS NOT NEW.founded_on OR OLD.batch_id IS NOT NEW.batch_id OR OLD.uscc IS NOT NEW.uscc)
  AND EXISTS (SELECT 1 FROM scoring_runs)   -- only an earlier run can need the old values
BEGIN
    INSERT INTO enterprise_versions (replaced_at, change, uscc, size_class, industry_code, founded_on, batch_id)
    VALUES (datetime('now'), 'update', OLD.uscc, OLD.size_class, OLD.industry_code, OLD.founded_on, OLD.batch_id);
END;

CREATE TRIGGER enterprises_keep_deleted BEFORE DELETE ON enterprises
WHEN EXISTS (SELECT 1 FROM scoring_runs)
BEGIN
    INSERT INTO enterprise_versions (replaced_at, change, uscc, size_class, industry_code, founded_on, batch_id)
    VALUES (datetime('now'), 'delete', OLD.uscc, OLD.size_class, OLD.industry_code, OLD.founded_on, OLD.batch_id);
END;
