-- Each storage a database's backups go to may keep its own retention policy (e.g. 7 days on a
-- local disk, 12 monthlies on S3), applied to the copies on that storage; null follows the
-- database's policy.
alter table database_storages add column retention_policy jsonb;
