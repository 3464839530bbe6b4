"""The fault matrix as data: one ``Scenario`` per (target, fault), with what must happen.

Read by ``test_fault_matrix.py`` (which runs and checks every row) and by
``scripts/reliability_report.py`` (which runs them and writes ``docs/reliability.md``).

How the expected figures come about (all time is fake, see ``harness``):

* retry pauses inside one call use fixed jitter, so the backoff before retry ``n`` is
  ``0.75 * 2**(n-1)`` s: 0.75, 1.5, 3, 6 (11.25 s for the 4 retries of ``max_retries=4``);
  a ``Retry-After: r`` waits ``r + 0.5 * min(1, r/10)`` s (7 -> 7.35, 30 -> 30.5);
* locks last 12 s and polls/pokes come every 5 s, so an undisturbed wait polls at 0, 5, 10 and
  15 s (4 polls) and sees the lock gone at 15 s; every HTTP backoff shifts that grid;
* a sensor tolerates 5 failed polls in a row and fails on the 6th; each failed poll is 5
  attempts (1 + 4 retries);
* "requests" is what the emulator received (its journal), "mutating" the PUT/PATCH among them,
  "applied" the writes the emulated API carried out.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from .harness import (
    GCAI_INSTRUCTIONS,
    GCAI_NAME,
    GCAI_PID,
    GCORE_PID,
    NEW_DESCRIPTION,
    NEW_NAME,
    TARGETS,
    Scenario,
    Step,
    World,
)

PROJECT = rf"/cloud/v1/projects/{GCORE_PID}"
TASK = r"/cloud/v1/tasks/.*"
GCAI = rf"/projects/{GCAI_PID}"
ANY_GCORE = r"/cloud/v1/.*"
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
LOCK_SECONDS = 12.0
Route = tuple[str, str, str]

# -- setup steps ---------------------------------------------------------------------------------------


def lock(outcome: str = "FINISHED", error: str | None = None, seconds: float | None = LOCK_SECONDS) -> Step:
    """Project 2 locked by a task that ends after 12 s (in ``outcome``); ``seconds=None``: never."""

    def step(world: World) -> None:
        assert world.emu is not None
        world.task_id = world.emu.lock_gcore_project(GCORE_PID, seconds=seconds, outcome=outcome, error=error)

    return step


def fault(route: Route, **kwargs: Any) -> Step:
    def step(world: World) -> None:
        assert world.emu is not None
        world.emu.add_fault(*route, **kwargs)

    return step


def later(answers: int, *steps: Step) -> Step:
    """Run ``steps`` once the client has judged its ``answers``-th answer (a change mid-wait)."""

    def step(world: World) -> None:
        def act(w: World) -> None:
            for inner in steps:
                inner(w)

        world.after_answers(answers, act)

    return step


def current_edition(world: World) -> None:
    """Gcore's current spec edition (2026-08), where PUT answers 405."""
    assert world.emu is not None
    world.emu.edition = "2026-08"


def put_edition(world: World) -> None:
    """Gcore's 2026-05 spec edition, which still lists PUT (and PATCH)."""
    assert world.emu is not None
    world.emu.edition = "2026-05"


def retry_after_date(route: Route, seconds: float) -> Step:
    """429 whose ``Retry-After`` is an HTTP date ``seconds`` ahead of the (fake) clock."""

    def step(world: World) -> None:
        assert world.emu is not None
        when = formatdate(world.clock() + seconds, usegmt=True)
        world.emu.add_fault(*route, status=429, headers={"Retry-After": when})

    return step


def without(route: Route, field: str, snapshot: Callable[[World], dict[str, Any]]) -> Step:
    """A 200 answer for ``route`` whose body lacks the required ``field``."""

    def step(world: World) -> None:
        assert world.emu is not None
        body = {k: v for k, v in snapshot(world).items() if k != field}
        world.emu.add_fault(*route, status=200, body=body)

    return step


def stale_read() -> Step:
    """The next project read answers with the project as it is now (call before locking it)."""

    def step(world: World) -> None:
        assert world.emu is not None
        world.emu.add_fault("gcore", "GET", PROJECT, status=200, body=world.emu.gcore_project(GCORE_PID))

    return step


def delete_project(world: World) -> None:
    assert world.emu is not None
    world.emu.delete_gcore_project(GCORE_PID)


def delete_gcai_project(world: World) -> None:
    assert world.emu is not None
    world.emu.delete_gcai_project(GCAI_PID)


def _replaced_project(world: World) -> dict[str, Any]:
    assert world.emu is not None
    return {**world.emu.gcore_project(GCORE_PID), "name": NEW_NAME, "description": NEW_DESCRIPTION}


def _project(world: World) -> dict[str, Any]:
    assert world.emu is not None
    return world.emu.gcore_project(GCORE_PID)


def _task(world: World) -> dict[str, Any]:
    assert world.emu is not None and world.task_id is not None
    return world.emu.gcore_task(world.task_id)


def _gcai_updated(world: World) -> dict[str, Any]:
    assert world.emu is not None
    return {**world.emu.gcai_project(GCAI_PID), "name": GCAI_NAME, "custom_instructions": GCAI_INSTRUCTIONS}


# -- the fault kinds, for one route ---------------------------------------------------------------------

FAULTS: dict[str, tuple[str, Callable[[Route], tuple[Step, ...]]]] = {
    "429-retry-after-seconds": ("429, Retry-After: 7", lambda r: (fault(r, status=429, headers={"Retry-After": "7"}),)),
    "429-retry-after-date": ("429, Retry-After: HTTP date +30 s", lambda r: (retry_after_date(r, 30),)),
    "429-retry-after-over-cap": (
        "429, Retry-After: 600 (over the 120 s cap)",
        lambda r: (fault(r, status=429, headers={"Retry-After": "600"}),),
    ),
    "503-burst": ("503 x3, then healthy", lambda r: (fault(r, status=503, times=3),)),
    "503-always": ("503 on every try", lambda r: (fault(r, status=503, times=None),)),
    "500": ("500 once", lambda r: (fault(r, status=500),)),
    "502-html": ("502 with an HTML body, once", lambda r: (fault(r, status=502, body=HTML_502),)),
    "502-html-always": (
        "502 with an HTML body on every try",
        lambda r: (fault(r, status=502, body=HTML_502, headers={"Content-Type": "text/html"}, times=None),),
    ),
    "dropped": ("connection dropped without an answer, once", lambda r: (fault(r, drop=True),)),
    "read-timeout": (
        "answer held 2.5 s against a 1 s timeout, once (the request IS handled)",
        lambda r: (fault(r, delay=2.5),),
    ),
    "truncated-json": ("200 with the JSON cut in half, once", lambda r: (fault(r, truncate=True),)),
    "401-revoked": ("401 on every request (key revoked)", lambda r: (fault(r, status=401, times=None),)),
    "403-invalid-key": ("403 (key not valid)", lambda r: (fault(r, status=403, times=None),)),
}


def scenario(
    target: str,
    key: str,
    *,
    outcome: str,
    requests: int,
    mutating: int,
    applied: int,
    slept: float,
    fault_text: str | None = None,
    setup: tuple[Step, ...] = (),
    route: Route | None = None,
    mid_wait: bool = False,
    kind: str | None = None,
    **kwargs: Any,
) -> Scenario:
    """A row; a ``route`` takes the fault's steps from ``FAULTS[key]`` (``mid_wait``: after the first answer).

    The outcome and the four figures are named in every row (see :class:`harness.Scenario` for what
    each counts): a table of bare numbers reads only with this signature beside it.
    """
    assert target in TARGETS, target
    text = fault_text
    steps = setup
    if route is not None:
        described, make = FAULTS[kind or key]
        made = make(route)
        steps = (*setup, later(1, *made)) if mid_wait else (*setup, *made)
        text = text or (described + (" (in the trigger, after a healthy first poke)" if mid_wait else ""))
    assert text is not None, key
    return Scenario(
        id=f"{target}:{key}",
        target=target,
        fault=text,
        outcome=outcome,
        requests=requests,
        mutating=mutating,
        applied=applied,
        slept=slept,
        setup=steps,
        **kwargs,
    )


#: The replace's write: with the default ``method="PATCH"``, one PATCH on either edition.
WRITE: Route = ("gcore", "PATCH", PROJECT)
GET_PROJECT: Route = ("gcore", "GET", PROJECT)
GET_TASK: Route = ("gcore", "GET", TASK)
PATCH: Route = ("gcai", "PATCH", GCAI)
IDEMPOTENT = "the first write was applied before the client gave up; the retry sends the same absolute values"
NOT_RETRIED = "a 500 on a write is not retried (it may have half-happened)"
TIMEOUT = 1.0

# -- GcoreReplaceProjectOperator, blocking lock wait ------------------------------------------------------
_R = "replace"
REPLACE = [
    scenario(
        _R,
        "no-fault",
        outcome="success",
        requests=2,
        mutating=1,
        applied=1,
        slept=0,
        fault_text="none (GET, then PATCH)",
    ),
    scenario(
        _R, "429-retry-after-seconds", outcome="success", requests=3, mutating=2, applied=1, slept=7.35, route=WRITE
    ),
    scenario(_R, "429-retry-after-date", outcome="success", requests=3, mutating=2, applied=1, slept=30.5, route=WRITE),
    scenario(
        _R,
        "429-retry-after-over-cap",
        outcome="RateLimitedError",
        requests=2,
        mutating=1,
        applied=0,
        slept=0,
        route=WRITE,
        message=("600",),
    ),
    scenario(_R, "503-burst", outcome="success", requests=5, mutating=4, applied=1, slept=5.25, route=WRITE),
    scenario(_R, "503-always", outcome="ServerError", requests=6, mutating=5, applied=0, slept=11.25, route=WRITE),
    scenario(
        _R, "500", outcome="ServerError", requests=2, mutating=1, applied=0, slept=0, route=WRITE, note=NOT_RETRIED
    ),
    scenario(
        _R,
        "500-on-read",
        outcome="success",
        requests=3,
        mutating=1,
        applied=1,
        slept=0.75,
        route=GET_PROJECT,
        kind="500",
        fault_text="500 once on the GET",
    ),
    scenario(_R, "502-html", outcome="success", requests=3, mutating=2, applied=1, slept=0.75, route=WRITE),
    scenario(
        _R,
        "502-html-always",
        outcome="ServerError",
        requests=6,
        mutating=5,
        applied=0,
        slept=11.25,
        route=WRITE,
        message=("502 Bad Gateway",),
    ),
    scenario(_R, "dropped", outcome="success", requests=3, mutating=2, applied=1, slept=0.75, route=WRITE),
    scenario(
        _R,
        "read-timeout",
        outcome="success",
        requests=3,
        mutating=2,
        applied=2,
        slept=0.75,
        route=WRITE,
        timeout=TIMEOUT,
        note=IDEMPOTENT,
    ),
    scenario(
        _R,
        "refused",
        outcome="ApiUnreachableError",
        requests=0,
        mutating=0,
        applied=0,
        slept=11.25,
        fault_text="connection refused (closed port)",
        refused=True,
        attempts=5,
    ),
    scenario(
        _R,
        "truncated-json",
        outcome="InvalidResponseError",
        requests=2,
        mutating=1,
        applied=1,
        slept=0,
        route=WRITE,
        note="the write was applied but its answer is unusable, so the task fails; a re-run reads the project "
        "first and skips a write that is already in place",
    ),
    scenario(
        _R,
        "truncated-json-on-read",
        outcome="InvalidResponseError",
        requests=1,
        mutating=0,
        applied=0,
        slept=0,
        route=GET_PROJECT,
        kind="truncated-json",
        fault_text="200 with the JSON cut in half on the GET",
    ),
    scenario(
        _R,
        "missing-field",
        outcome="InvalidResponseError",
        requests=2,
        mutating=1,
        applied=0,
        slept=0,
        fault_text="200 without task_id answering the PATCH",
        setup=(without(WRITE, "task_id", _replaced_project),),
        message=("task_id",),
    ),
    scenario(
        _R,
        "409-lock-race",
        outcome="success",
        requests=8,
        mutating=2,
        applied=1,
        slept=15,
        fault_text="409: locked between the read and the write; holder ends after 12 s",
        setup=(stale_read(), lock()),
    ),
    scenario(
        _R,
        "lock",
        outcome="success",
        requests=7,
        mutating=1,
        applied=1,
        slept=15,
        fault_text="locked on the read; holder ends after 12 s",
        setup=(lock(),),
    ),
    scenario(
        _R,
        "lock-error",
        outcome="success",
        requests=7,
        mutating=1,
        applied=1,
        slept=15,
        fault_text="locked; holder ends in ERROR (logged, the write goes ahead)",
        setup=(lock("ERROR", "Quota exceeded"),),
    ),
    scenario(
        _R,
        "lock-error-fail",
        outcome="GcoreTaskFailedError",
        requests=5,
        mutating=0,
        applied=0,
        slept=15,
        fault_text="locked; holder ends in ERROR, fail_on_lock_error=True",
        setup=(lock("ERROR", "Quota exceeded"),),
        kwargs={"fail_on_lock_error": True},
        message=("Quota exceeded",),
    ),
    scenario(
        _R,
        "404-mid-wait",
        outcome="NotFoundError",
        requests=6,
        mutating=0,
        applied=0,
        slept=15,
        fault_text="project deleted during the lock wait",
        setup=(lock(), later(2, delete_project)),
    ),
    scenario(
        _R,
        "401-mid-wait",
        outcome="AuthenticationError",
        requests=3,
        mutating=0,
        applied=0,
        slept=5,
        fault_text="401 on every GET from the second task poll on (key revoked)",
        setup=(lock(), later(2, fault(("gcore", "GET", ANY_GCORE), status=401, times=None))),
    ),
    scenario(
        _R,
        "405-put-removed",
        outcome="success",
        requests=3,
        mutating=2,
        applied=1,
        slept=0,
        fault_text="PUT removed upstream (405), method='auto': the same replacement goes by PATCH",
        setup=(current_edition,),
        kwargs={"method": "auto"},
        note="the 405 applied nothing, so the one PATCH is the only write; each task process pays the 405 once",
    ),
    scenario(
        _R,
        "405-method-put",
        outcome="MethodNotAllowedError",
        requests=2,
        mutating=1,
        applied=0,
        slept=0,
        fault_text="PUT removed upstream (405), method='PUT' (no fallback)",
        setup=(current_edition,),
        kwargs={"method": "PUT"},
        message=("method='auto'",),
    ),
    scenario(
        _R,
        "405-method-patch",
        outcome="success",
        requests=2,
        mutating=1,
        applied=1,
        slept=0,
        fault_text="PUT removed upstream, method='PATCH' (the default, given explicitly)",
        setup=(current_edition,),
        kwargs={"method": "PATCH"},
    ),
    scenario(
        _R,
        "put-edition",
        outcome="success",
        requests=2,
        mutating=1,
        applied=1,
        slept=0,
        fault_text="the 2026-05 edition, which still lists PUT: the default still sends one PATCH",
        setup=(put_edition,),
    ),
    scenario(
        _R,
        "409-name-taken",
        outcome="ConflictError",
        requests=2,
        mutating=1,
        applied=0,
        slept=0,
        fault_text="409 that is not a lock (name used by project 1)",
        kwargs={"name": "default"},
        note="the 409 names no lock holder: judged from the answer alone, no wait, no second write",
    ),
    scenario(
        _R,
        "lock-timeout",
        outcome="LockWaitTimeoutError",
        requests=8,
        mutating=0,
        applied=0,
        slept=30,
        fault_text="the lock never ends; lock_timeout=30",
        setup=(lock(seconds=None),),
        kwargs={"lock_timeout": 30},
    ),
]

# -- GcoreReplaceProjectOperator, deferrable (the wait runs in GcoreProjectUnlockedTrigger) ------------
_D = "replace_deferred"
REPLACE_DEFERRED = [
    scenario(
        _D,
        "lock",
        outcome="success",
        requests=7,
        mutating=1,
        applied=1,
        slept=15,
        fault_text="locked on the read; holder ends after 12 s",
        setup=(lock(),),
    ),
    scenario(
        _D,
        "409-lock-race",
        outcome="success",
        requests=8,
        mutating=2,
        applied=1,
        slept=15,
        fault_text="409: locked between the read and the write",
        setup=(stale_read(), lock()),
    ),
    scenario(
        _D,
        "lock-error",
        outcome="success",
        requests=7,
        mutating=1,
        applied=1,
        slept=15,
        fault_text="holder ends in ERROR (not read without fail_on_lock_error; the write goes ahead)",
        setup=(lock("ERROR", "Quota exceeded"),),
    ),
    scenario(
        _D,
        "lock-error-fail",
        outcome="GcoreTaskFailedError",
        requests=6,
        mutating=0,
        applied=0,
        slept=15,
        fault_text="holder ends in ERROR, fail_on_lock_error=True (read once, when the lock clears)",
        setup=(lock("ERROR", "Quota exceeded"),),
        kwargs={"fail_on_lock_error": True},
    ),
    scenario(
        _D,
        "429-retry-after-seconds",
        outcome="success",
        requests=6,
        mutating=1,
        applied=1,
        slept=12.35,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
    ),
    scenario(
        _D,
        "429-retry-after-date",
        outcome="success",
        requests=5,
        mutating=1,
        applied=1,
        slept=30.5,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
    ),
    scenario(
        _D,
        "503-burst",
        outcome="success",
        requests=9,
        mutating=1,
        applied=1,
        slept=15.25,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
    ),
    scenario(
        _D,
        "500",
        outcome="success",
        requests=8,
        mutating=1,
        applied=1,
        slept=15.75,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
    ),
    scenario(
        _D,
        "502-html",
        outcome="success",
        requests=8,
        mutating=1,
        applied=1,
        slept=15.75,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
    ),
    scenario(
        _D,
        "503-always",
        outcome="ServerError",
        requests=31,
        mutating=0,
        applied=0,
        slept=87.5,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
        message=("6 failed polls in a row",),
    ),
    scenario(
        _D,
        "read-timeout",
        outcome="success",
        requests=8,
        mutating=1,
        applied=1,
        slept=15.75,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
        timeout=TIMEOUT,
    ),
    # aiohttp sends a GET again by itself when a kept-alive connection drops: no backoff pause.
    # (one request the emulator saw is that resend, not an attempt of the HTTP core: attempts = requests - 1)
    scenario(
        _D,
        "dropped",
        outcome="success",
        requests=8,
        mutating=1,
        applied=1,
        slept=15.0,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
        attempts=7,
    ),
    scenario(
        _D,
        "truncated-json",
        outcome="success",
        requests=7,
        mutating=1,
        applied=1,
        slept=15,
        setup=(lock(),),
        route=GET_PROJECT,
        mid_wait=True,
    ),
    scenario(
        _D,
        "missing-field",
        outcome="success",
        requests=7,
        mutating=1,
        applied=1,
        slept=15,
        fault_text="200 without task_id on the trigger's first project poll",
        setup=(lock(), later(1, without(GET_PROJECT, "task_id", _project))),
    ),
    scenario(
        _D,
        "404-mid-wait",
        outcome="NotFoundError",
        requests=3,
        mutating=0,
        applied=0,
        slept=5,
        fault_text="project deleted during the lock wait (the next poll of the project sees it)",
        setup=(lock(), later(2, delete_project)),
    ),
    scenario(
        _D,
        "401-mid-wait",
        outcome="AuthenticationError",
        requests=3,
        mutating=0,
        applied=0,
        slept=5,
        fault_text="401 from the second task poll on (key revoked)",
        setup=(lock(), later(2, fault(("gcore", "GET", ANY_GCORE), status=401, times=None))),
    ),
    scenario(
        _D,
        "lock-timeout",
        outcome="LockWaitTimeoutError",
        requests=8,
        mutating=0,
        applied=0,
        slept=30,
        fault_text="the lock never ends; lock_timeout=30",
        setup=(lock(seconds=None),),
        kwargs={"lock_timeout": 30},
    ),
]

# -- GcaiUpdateProjectOperator ---------------------------------------------------------------------------
_G = "gcai_update"
GCAI_UPDATE = [
    scenario(
        _G, "no-fault", outcome="success", requests=1, mutating=1, applied=1, slept=0, fault_text="none (one PATCH)"
    ),
    scenario(
        _G, "429-retry-after-seconds", outcome="success", requests=2, mutating=2, applied=1, slept=7.35, route=PATCH
    ),
    scenario(_G, "429-retry-after-date", outcome="success", requests=2, mutating=2, applied=1, slept=30.5, route=PATCH),
    scenario(
        _G,
        "429-retry-after-over-cap",
        outcome="RateLimitedError",
        requests=1,
        mutating=1,
        applied=0,
        slept=0,
        route=PATCH,
        message=("600",),
    ),
    scenario(_G, "503-burst", outcome="success", requests=4, mutating=4, applied=1, slept=5.25, route=PATCH),
    scenario(_G, "503-always", outcome="ServerError", requests=5, mutating=5, applied=0, slept=11.25, route=PATCH),
    scenario(
        _G, "500", outcome="ServerError", requests=1, mutating=1, applied=0, slept=0, route=PATCH, note=NOT_RETRIED
    ),
    scenario(_G, "502-html", outcome="success", requests=2, mutating=2, applied=1, slept=0.75, route=PATCH),
    scenario(
        _G,
        "502-html-always",
        outcome="ServerError",
        requests=5,
        mutating=5,
        applied=0,
        slept=11.25,
        route=PATCH,
        message=("502 Bad Gateway",),
    ),
    scenario(_G, "dropped", outcome="success", requests=2, mutating=2, applied=1, slept=0.75, route=PATCH),
    scenario(
        _G,
        "read-timeout",
        outcome="success",
        requests=2,
        mutating=2,
        applied=2,
        slept=0.75,
        route=PATCH,
        timeout=TIMEOUT,
        note=IDEMPOTENT,
    ),
    scenario(
        _G,
        "refused",
        outcome="ApiUnreachableError",
        requests=0,
        mutating=0,
        applied=0,
        slept=11.25,
        fault_text="connection refused (closed port)",
        refused=True,
        attempts=5,
    ),
    scenario(
        _G,
        "truncated-json",
        outcome="InvalidResponseError",
        requests=1,
        mutating=1,
        applied=1,
        slept=0,
        route=PATCH,
        note="the write happened; a retry sends the same absolute values",
    ),
    scenario(
        _G,
        "missing-field",
        outcome="InvalidResponseError",
        requests=1,
        mutating=1,
        applied=0,
        slept=0,
        fault_text="200 without updated_at",
        setup=(without(PATCH, "updated_at", _gcai_updated),),
        message=("updated_at",),
    ),
    scenario(_G, "401-revoked", outcome="AuthenticationError", requests=1, mutating=1, applied=0, slept=0, route=PATCH),
    scenario(
        _G, "403-invalid-key", outcome="AuthenticationError", requests=1, mutating=1, applied=0, slept=0, route=PATCH
    ),
    scenario(
        _G,
        "404-deleted",
        outcome="NotFoundError",
        requests=1,
        mutating=1,
        applied=0,
        slept=0,
        fault_text="project deleted before the run",
        setup=(delete_gcai_project,),
    ),
]


# -- the sensors: the same faults on their polls -------------------------------------------------------------
#
# Every sensor row starts with project 2 locked for 12 s (the task sensor waits for that lock's task).
# Poke rows put the fault on the first poll; deferrable rows on the trigger's first poll (t=5 s): the
# worker's own first poke (t=0) stays healthy, then the sensor defers. A project wait ends with one more
# GET, of the task that held the lock (pushed to XCom as ``lock_task``); a task wait does not.

SENSOR_ROUTES: dict[str, tuple[Route, bool]] = {
    "unlocked_poke": (GET_PROJECT, False),
    "unlocked_deferred": (GET_PROJECT, True),
    "task_poke": (GET_TASK, False),
    "task_deferred": (GET_TASK, True),
}


def waits(target: str, key: str, *, outcome: str, requests: int, slept: float, **kwargs: Any) -> Scenario:
    """A sensor row (sensors never write) with the lock set up and, for ``FAULTS`` keys, the fault on a poll."""
    route, deferred = SENSOR_ROUTES[target]
    kwargs.setdefault("setup", (lock(),))
    if key in FAULTS:
        kwargs.update(route=route, mid_wait=deferred)
    return scenario(target, key, outcome=outcome, requests=requests, mutating=0, applied=0, slept=slept, **kwargs)


def missing_on_poll(target: str, field: str, snapshot: Callable[[World], dict[str, Any]]) -> Scenario:
    route, deferred = SENSOR_ROUTES[target]
    bad = without(route, field, snapshot)
    holder = 0 if target.startswith("task") else 1  # a project wait ends with a GET of the holder
    return waits(
        target,
        "missing-field",
        outcome="success",
        requests=4 + holder,
        slept=15,
        fault_text=f"200 without {field} on one poll (tolerated like a failed poll)",
        setup=(lock(), later(1, bad) if deferred else bad),
    )


#: A deferring sensor polls once on the worker, then hands the wait to a trigger that starts counting failed
#: polls from zero: a wait that fails from its first poll on fails on the 7th failed poll, not the 6th.
ERROR = lock("ERROR", "Quota exceeded")
REVOKE = fault(("gcore", "GET", ANY_GCORE), status=401, times=None)
_P, _Q, _T, _U = "unlocked_poke", "unlocked_deferred", "task_poke", "task_deferred"
SENSORS = [
    # GcoreProjectUnlockedSensor, poke mode: polls at 0, 5, 10, 15 s, then the holder's GET.
    waits(_P, "no-lock", outcome="success", requests=1, slept=0, fault_text="none (project unlocked)", setup=()),
    waits(_P, "lock", outcome="success", requests=5, slept=15, fault_text="locked; holder ends after 12 s"),
    waits(
        _P,
        "lock-error",
        outcome="success",
        requests=5,
        slept=15,
        fault_text="holder ends in ERROR (logged, pushed to XCom)",
        setup=(ERROR,),
    ),
    waits(
        _P,
        "lock-error-fail",
        outcome="GcoreTaskFailedError",
        requests=5,
        slept=15,
        fault_text="holder ends in ERROR, fail_on_lock_error=True",
        setup=(ERROR,),
        kwargs={"fail_on_lock_error": True},
    ),
    waits(
        _P, "429-retry-after-seconds", outcome="success", requests=4, slept=12.35
    ),  # 429 at 0, locked at 7.35, clear at 12.35
    waits(
        _P, "429-retry-after-date", outcome="success", requests=2, slept=30.5
    ),  # clear at 30.5: the holder was never seen
    waits(_P, "503-burst", outcome="success", requests=7, slept=15.25),
    waits(
        _P, "503-always", outcome="ServerError", requests=30, slept=92.5, message=("Service Unavailable",)
    ),  # 6 polls x 5 tries
    waits(_P, "500", outcome="success", requests=6, slept=15.75),  # a 500 on a read is retried
    waits(_P, "502-html", outcome="success", requests=6, slept=15.75),
    waits(_P, "dropped", outcome="success", requests=6, slept=15.75),
    waits(_P, "read-timeout", outcome="success", requests=6, slept=15.75, timeout=TIMEOUT),
    waits(
        _P,
        "refused",
        outcome="ApiUnreachableError",
        requests=0,
        slept=92.5,
        fault_text="connection refused (closed port)",
        refused=True,
        attempts=30,
    ),
    waits(_P, "truncated-json", outcome="success", requests=5, slept=15),
    missing_on_poll(_P, "task_id", _project),
    waits(
        _P,
        "404-mid-wait",
        outcome="NotFoundError",
        requests=2,
        slept=5,
        fault_text="project deleted after the first poll",
        setup=(lock(), later(1, delete_project)),
    ),
    waits(
        _P,
        "401-mid-wait",
        outcome="AuthenticationError",
        requests=2,
        slept=5,
        fault_text="401 from the second poll on (key revoked)",
        setup=(lock(), later(1, REVOKE)),
    ),
    # GcoreProjectUnlockedSensor, deferrable: poke at 0 on the worker, trigger polls at 5, 10, 15 s.
    waits(
        _Q,
        "no-lock",
        outcome="success",
        requests=1,
        slept=0,
        fault_text="none (project unlocked: no deferral)",
        setup=(),
    ),
    waits(_Q, "lock", outcome="success", requests=5, slept=15, fault_text="locked; holder ends after 12 s"),
    waits(
        _Q,
        "lock-error",
        outcome="success",
        requests=5,
        slept=15,
        fault_text="holder ends in ERROR (logged, pushed to XCom)",
        setup=(ERROR,),
    ),
    waits(
        _Q,
        "lock-error-fail",
        outcome="GcoreTaskFailedError",
        requests=5,
        slept=15,
        fault_text="holder ends in ERROR, fail_on_lock_error=True",
        setup=(ERROR,),
        kwargs={"fail_on_lock_error": True},
    ),
    waits(_Q, "429-retry-after-seconds", outcome="success", requests=4, slept=12.35),  # 429 at 5, clear at 12.35
    # the date is set when the worker's poke (t=0) is answered: the 429 at t=5 waits until t=30.5
    waits(_Q, "429-retry-after-date", outcome="success", requests=4, slept=30.5),
    waits(_Q, "500", outcome="success", requests=6, slept=15.75),
    waits(_Q, "502-html", outcome="success", requests=6, slept=15.75),
    waits(
        _Q,
        "refused",
        outcome="ApiUnreachableError",
        requests=0,
        slept=88.75,
        fault_text="connection refused (closed port), from the worker's first poke on",
        refused=True,
        attempts=30,
    ),
    waits(_Q, "503-burst", outcome="success", requests=7, slept=15.25),
    waits(_Q, "503-always", outcome="ServerError", requests=31, slept=92.5, message=("6 failed polls in a row",)),
    # aiohttp resends a GET on a dropped kept-alive connection itself: one request is not a core attempt
    waits(_Q, "dropped", outcome="success", requests=6, slept=15.0, attempts=5),
    waits(_Q, "read-timeout", outcome="success", requests=6, slept=15.75, timeout=TIMEOUT),
    waits(_Q, "truncated-json", outcome="success", requests=5, slept=15),
    missing_on_poll(_Q, "task_id", _project),
    waits(
        _Q,
        "404-mid-wait",
        outcome="NotFoundError",
        requests=2,
        slept=5,
        fault_text="project deleted after the first poll",
        setup=(lock(), later(1, delete_project)),
    ),
    waits(
        _Q,
        "401-mid-wait",
        outcome="AuthenticationError",
        requests=2,
        slept=5,
        fault_text="401 from the second poll on (key revoked)",
        setup=(lock(), later(1, REVOKE)),
    ),
    waits(
        _Q,
        "lock-timeout",
        outcome="AirflowSensorTimeout",
        requests=7,
        slept=30,
        fault_text="the lock never ends; timeout=30",
        setup=(lock(seconds=None),),
        kwargs={"timeout": 30},
    ),
    # GcoreTaskSensor, poke mode: polls at 0, 5, 10, 15 s.
    waits(_T, "lock", outcome="success", requests=4, slept=15, fault_text="task ends FINISHED after 12 s"),
    waits(
        _T,
        "lock-error",
        outcome="GcoreTaskFailedError",
        requests=4,
        slept=15,
        fault_text="task ends in ERROR",
        setup=(ERROR,),
        message=("Quota exceeded",),
    ),
    waits(_T, "429-retry-after-seconds", outcome="success", requests=3, slept=12.35),
    waits(_T, "429-retry-after-date", outcome="success", requests=2, slept=30.5),
    waits(_T, "503-burst", outcome="success", requests=6, slept=15.25),
    waits(_T, "503-always", outcome="ServerError", requests=30, slept=92.5),
    waits(_T, "500", outcome="success", requests=5, slept=15.75),
    waits(_T, "502-html", outcome="success", requests=5, slept=15.75),
    waits(_T, "dropped", outcome="success", requests=5, slept=15.75),
    waits(_T, "read-timeout", outcome="success", requests=5, slept=15.75, timeout=TIMEOUT),
    waits(
        _T,
        "refused",
        outcome="ApiUnreachableError",
        requests=0,
        slept=92.5,
        fault_text="connection refused (closed port)",
        refused=True,
        attempts=30,
    ),
    waits(_T, "truncated-json", outcome="success", requests=4, slept=15),
    missing_on_poll(_T, "state", _task),
    waits(
        _T,
        "404-mid-wait",
        outcome="NotFoundError",
        requests=2,
        slept=5,
        fault_text="404 from the second poll on (task gone)",
        setup=(lock(), later(1, fault(GET_TASK, status=404, times=None))),
    ),
    waits(
        _T,
        "401-mid-wait",
        outcome="AuthenticationError",
        requests=2,
        slept=5,
        fault_text="401 from the second poll on (key revoked)",
        setup=(lock(), later(1, REVOKE)),
    ),
    # GcoreTaskSensor, deferrable: poke at 0 on the worker, trigger polls at 5, 10, 15 s.
    waits(_U, "lock", outcome="success", requests=4, slept=15, fault_text="task ends FINISHED after 12 s"),
    waits(
        _U,
        "lock-error",
        outcome="GcoreTaskFailedError",
        requests=4,
        slept=15,
        fault_text="task ends in ERROR",
        setup=(ERROR,),
        message=("Quota exceeded",),
    ),
    waits(_U, "429-retry-after-seconds", outcome="success", requests=3, slept=12.35),
    waits(_U, "429-retry-after-date", outcome="success", requests=3, slept=30.5),
    waits(_U, "500", outcome="success", requests=5, slept=15.75),
    waits(_U, "502-html", outcome="success", requests=5, slept=15.75),
    waits(
        _U,
        "refused",
        outcome="ApiUnreachableError",
        requests=0,
        slept=88.75,
        fault_text="connection refused (closed port), from the worker's first poke on",
        refused=True,
        attempts=30,
    ),
    waits(_U, "503-burst", outcome="success", requests=6, slept=15.25),
    waits(_U, "503-always", outcome="ServerError", requests=31, slept=92.5, message=("6 failed polls in a row",)),
    waits(_U, "dropped", outcome="success", requests=5, slept=15.0, attempts=4),  # aiohttp's own resend, as above
    waits(_U, "read-timeout", outcome="success", requests=5, slept=15.75, timeout=TIMEOUT),
    waits(_U, "truncated-json", outcome="success", requests=4, slept=15),
    missing_on_poll(_U, "state", _task),
    waits(
        _U,
        "404-mid-wait",
        outcome="NotFoundError",
        requests=2,
        slept=5,
        fault_text="404 from the second poll on (task gone)",
        setup=(lock(), later(1, fault(GET_TASK, status=404, times=None))),
    ),
    waits(
        _U,
        "401-mid-wait",
        outcome="AuthenticationError",
        requests=2,
        slept=5,
        fault_text="401 from the second poll on (key revoked)",
        setup=(lock(), later(1, REVOKE)),
    ),
    waits(
        _U,
        "lock-timeout",
        outcome="AirflowSensorTimeout",
        requests=7,
        slept=30,
        fault_text="the task never ends; timeout=30",
        setup=(lock(seconds=None),),
        kwargs={"timeout": 30},
    ),
]

SCENARIOS: list[Scenario] = [*REPLACE, *REPLACE_DEFERRED, *GCAI_UPDATE, *SENSORS]
BY_ID = {s.id: s for s in SCENARIOS}
assert len(BY_ID) == len(SCENARIOS), "scenario ids must be unique"
