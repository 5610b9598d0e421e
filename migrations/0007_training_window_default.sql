-- A detection config trains on two weeks by default (a weekly cycle seen twice; docs/detection.md:
-- on NAB 7 days gave 59.2 and 14 days 63.0 standard). Existing configs keep their own window.
ALTER TABLE tsmon.detection_configs ALTER COLUMN training_window SET DEFAULT '14 days';
