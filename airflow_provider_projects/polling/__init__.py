"""The one async wait driver of the triggerer: polls shared by waits and watches (``driver.py``)."""
