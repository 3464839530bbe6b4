"""The defaults of waiting, defined once: a leaf module, cheap enough for DAG parse time."""

from __future__ import annotations

from typing import Final

#: Gcore publishes no rate limit for polling; its docs recommend 5-30 s and its SDK polls every 3 s.
POLL_INTERVAL: Final = 10.0
#: Failed polls in a row (each already retried inside the HTTP core) a wait rides out.
MAX_CONSECUTIVE_ERRORS: Final = 5
#: Room left for a trigger's own timeout event before Airflow's deferral timeout would fire.
DEFER_MARGIN: Final = 120.0
#: How long the replace operator waits, in all, for locks on its project.
LOCK_TIMEOUT: Final = 30 * 60.0
#: A sensor's wait always ends: two hours, as long as the Gcore SDK's own task wait.
SENSOR_TIMEOUT: Final = 2 * 60 * 60.0
