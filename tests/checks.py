"""The report of the Python tests that run many checks: a line per check ("ok" or "FAIL"),
and an exit status of 1 when any failed."""
import sys

failures = 0


def check(ok, what):
    global failures
    failures += not ok
    print("%s %s" % ("ok  " if ok else "FAIL", what))


def finish():
    sys.exit(1 if failures else 0)
