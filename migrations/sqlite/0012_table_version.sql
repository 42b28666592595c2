-- A change counter per table and source for the tables lead facts derive from (lead, campaign,
-- click_id): the transaction that changes rows of one bumps its counter, so telling whether the
-- facts are current reads this small table instead of counting a million leads. Keep in step
-- with migrations/postgres/0012_table_version.sql.
CREATE TABLE table_version (
    tbl     TEXT NOT NULL,
    source  TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tbl, source)
);
INSERT INTO table_version (tbl, source, version)
    SELECT 'lead', source, 1 FROM lead GROUP BY source;
INSERT INTO table_version (tbl, source, version)
    SELECT 'campaign', source, 1 FROM campaign GROUP BY source;
INSERT INTO table_version (tbl, source, version)
    SELECT 'click_id', source, 1 FROM click_id GROUP BY source;
