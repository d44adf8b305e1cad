-- SQLite has no trigram index: user search scans core_user (see docs/performance.md for its cost).
SELECT 1;
