-- 0010 credit terms (issue 14 item 8): a credit record's repair date and the basis of a tax D.
-- The importer stores every property of schemas/credit.schema.json in a column of the same name.

-- 信用修复日期 / 修复日期: the record stops counting on this date, for both lists and for the
-- whitelist's look-back (NDRC order No. 36: repaired information is no longer used).
-- ISO date text; NULL = not repaired.
ALTER TABLE credit_records ADD COLUMN repaired_on TEXT;

-- 直接判级: how a tax rating D was reached. 1 = assigned directly (blacklisted 2 years from
-- publication), 0 = reached by score (counts for its rating year only), NULL = not recorded
-- (treated as the list rules' tax.unknown_basis says; the reason says "basis unknown").
ALTER TABLE credit_records ADD COLUMN direct INTEGER;
