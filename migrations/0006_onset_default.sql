-- The default detector of a detection config is `onset` (docs/detection.md: the best of tsmon's on
-- NAB, one alarm per spike or level shift). Existing configs keep the detector they name.
ALTER TABLE tsmon.detection_configs ALTER COLUMN detector SET DEFAULT 'onset';
