"""User feedback on anomaly events: recorded on the event, and it moves the config's threshold."""

from __future__ import annotations

from tsmon.db import Conn
from tsmon.errors import TsmonError
from tsmon.scoring.configs import MAX_THRESHOLD

FEEDBACK = {"true": "true_positive", "false": "false_positive", "ignore": "ignored"}
MAX_NOTE_CHARS = 2000
# A false alarm (or an ignored one) raises the threshold a little; a confirmed one lowers it back,
# never below the configured sensitivity (the floor).
RAISE_STEP = 0.001
LOWER_STEP = 0.0005
# The config's threshold_raise is the sum of its events' verdicts (each +RAISE_STEP or -LOWER_STEP),
# clamped to [0, MAX_THRESHOLD - sensitivity]: a verdict acts once however often it is given, and
# changing it replaces its effect, whatever order verdicts come in.
_RECOMPUTE = (
    "UPDATE tsmon.detection_configs c SET threshold_raise = greatest(0, least(coalesce(("
    "  SELECT sum(CASE a.feedback WHEN 'true_positive' THEN -%(lower)s ELSE %(raise)s END)"
    "  FROM tsmon.anomalies a WHERE a.config_id = c.id AND a.feedback IS NOT NULL), 0),"
    " %(max)s - c.sensitivity)), updated_at = now() "
    "WHERE c.id = %(config)s RETURNING least(c.sensitivity + c.threshold_raise, %(max)s)"
)


class FeedbackError(TsmonError):
    """Feedback names an unknown anomaly or an unknown verdict."""


def give_feedback(conn: Conn, anomaly_id: int, verdict: str, note: str | None = None) -> tuple[str, float]:
    """Record the verdict; returns (feedback, the config's threshold after it)."""
    if verdict not in FEEDBACK:
        raise FeedbackError(f"feedback is one of {', '.join(FEEDBACK)}, not {verdict!r}")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise FeedbackError(f"the note is {len(note)} characters; at most {MAX_NOTE_CHARS}")
    feedback = FEEDBACK[verdict]
    with conn.transaction():
        row = conn.execute(
            "UPDATE tsmon.anomalies SET feedback = %s, feedback_note = %s, feedback_at = now(), "
            "updated_at = now() WHERE id = %s RETURNING config_id",
            (feedback, note, anomaly_id),
        ).fetchone()
        if row is None:
            raise FeedbackError(f"no anomaly with id {anomaly_id}")
        # Serialises concurrent verdicts on one config: the sum is read after the row lock.
        conn.execute("SELECT 1 FROM tsmon.detection_configs WHERE id = %s FOR UPDATE", (row[0],))
        params = {"lower": LOWER_STEP, "raise": RAISE_STEP, "max": MAX_THRESHOLD, "config": row[0]}
        threshold = conn.execute(_RECOMPUTE, params).fetchone()
    assert threshold is not None
    return feedback, float(threshold[0])
