"""User feedback on anomaly events: recorded on the event, and it moves the config's threshold."""

from __future__ import annotations

from tsmon.db import Conn
from tsmon.errors import TsmonError
from tsmon.scoring.configs import MAX_THRESHOLD

FEEDBACK = {"true": "true_positive", "false": "false_positive", "ignore": "ignored"}
# A false alarm (or an ignored one) raises the threshold a little; a confirmed one lowers it back,
# never below the configured sensitivity (the floor).
RAISE_STEP = 0.001
LOWER_STEP = 0.0005


class FeedbackError(TsmonError):
    """Feedback names an unknown anomaly or an unknown verdict."""


def give_feedback(conn: Conn, anomaly_id: int, verdict: str, note: str | None = None) -> tuple[str, float]:
    """Record the verdict; returns (feedback, the config's threshold after it)."""
    if verdict not in FEEDBACK:
        raise FeedbackError(f"feedback is one of {', '.join(FEEDBACK)}, not {verdict!r}")
    feedback = FEEDBACK[verdict]
    with conn.transaction():
        row = conn.execute(
            "UPDATE tsmon.anomalies SET feedback = %s, feedback_note = %s, feedback_at = now(), "
            "updated_at = now() "
            "WHERE id = %s RETURNING config_id",
            (feedback, note, anomaly_id),
        ).fetchone()
        if row is None:
            raise FeedbackError(f"no anomaly with id {anomaly_id}")
        delta = RAISE_STEP if feedback != "true_positive" else -LOWER_STEP
        threshold = conn.execute(
            "UPDATE tsmon.detection_configs SET threshold_raise = "
            "greatest(0, least(threshold_raise + %s, %s - sensitivity)), updated_at = now() "
            "WHERE id = %s RETURNING least(sensitivity + threshold_raise, %s)",
            (delta, MAX_THRESHOLD, row[0], MAX_THRESHOLD),
        ).fetchone()
    assert threshold is not None
    return feedback, float(threshold[0])
