#!/usr/bin/env python3
"""Tallies a meson testlog.json: Criterion suites count their own tests and
skips (from their synthesis line), drivers that print "N passed, N failed"
(tests/neon) count theirs, any other test counts as one."""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        m = re.findall(r"Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)", out)
        ok = t["result"] in ("OK", "EXPECTEDFAIL")
        if m:
            tested, passing, failing, crashing = map(int, m[-1])
            passed += passing
            failed += failing + crashing
            skips = re.findall(r"^\[SKIP\] .*$", out, re.M)
            skipped += len(skips)
            for line in skips:
                print(line)
            if not ok and failing + crashing == 0:
                failed += 1
        elif re.search(r"^(\w+: )?\d+ passed, \d+ failed", out, re.M):
            p, f = map(int, re.findall(r"^(?:\w+: )?(\d+) passed, (\d+) failed", out, re.M)[-1])
            passed += p
            failed += f
            if not ok and f == 0:
                failed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        elif ok:
            passed += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
