-- Deleting a detection config takes its output with it: events and scores of a config that no longer
-- exists would stay visible in the public views with nothing to explain them. (Shards, models and
-- drift events go by their foreign keys' ON DELETE CASCADE.)
CREATE OR REPLACE FUNCTION tsmon.detection_config_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    DELETE FROM tsmon.anomalies WHERE config_id = OLD.id;
    DELETE FROM tsmon.anomaly_scores WHERE config_id = OLD.id;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION tsmon.detection_config_deleted() IS
    'Trigger: a deleted detection config''s anomaly events and scores are deleted with it.';

DROP TRIGGER IF EXISTS detection_config_deleted ON tsmon.detection_configs;
CREATE TRIGGER detection_config_deleted AFTER DELETE ON tsmon.detection_configs
    FOR EACH ROW EXECUTE FUNCTION tsmon.detection_config_deleted();
