-- Where the view's rows come from: history before the watermark, raw snapshots after (make history).
SELECT 'history' AS tier, count(*) AS rows, min(snapshot_time) AS first, max(snapshot_time) AS last
FROM "connect_user_data"."history"
UNION ALL
SELECT 'raw' AS tier, count(*), min(snapshot_time), max(snapshot_time) FROM "connect_user_data"."snapshots"
UNION ALL
SELECT 'user_data (view)' AS tier, count(*), min(snapshot_time), max(snapshot_time) FROM "connect_user_data"."user_data"
