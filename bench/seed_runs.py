#!/usr/bin/env python3
"""Fills an Aviary database with run history for benchmarks: CANARIES canaries (c-0000, ...)
with RUNS runs each, one every INTERVAL seconds back from now, made from one real report.json
(its steps and datapoints copied). About 2% of runs fail.

usage: seed_runs.py DB TEMPLATE_REPORT_JSON CANARIES RUNS INTERVAL_SECONDS
"""
import copy
import datetime as dt
import json
import random
import sqlite3
import sys
import uuid

db, template_path, canaries, runs, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
template = json.load(open(template_path))
random.seed(7)
now = dt.datetime.now(dt.timezone.utc)


def iso(t):
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


conn = sqlite3.connect(db)
conn.execute("PRAGMA synchronous = OFF")
run_rows, step_rows, point_rows = [], [], []
for c in range(canaries):
    name = f"c-{c:04d}"
    for k in range(runs):
        start = now - dt.timedelta(seconds=k * interval + random.random() * 5)
        duration = random.uniform(80, 600)
        failed = random.random() < 0.02
        run_id = str(uuid.uuid4())
        report = copy.deepcopy(template)
        report.update(canary=name, run_id=run_id, start=iso(start), end=iso(start + dt.timedelta(milliseconds=duration)),
                      duration_ms=duration, status="FAILED" if failed else "PASSED")
        report["reason"] = "step 1 `get`: expected status == 200, got 503" if failed else None
        if report["reason"] is None:
            report.pop("reason")
        artifacts = f"{name}/{start:%Y/%m/%d/%H}/{start:%M-%S}-{start.microsecond // 1000:03d}-{run_id}"
        report["artifacts"] = artifacts
        ms = int(start.timestamp() * 1000)
        run_rows.append((run_id, name, 1, report["blueprint"], report["status"], report.get("reason"), ms,
                         ms + int(duration), duration, artifacts, json.dumps(report)))
        for step in report["steps"]:
            step_rows.append((run_id, step["index"], step["name"], "FAILED" if failed else "PASSED", None, ms, duration * 0.9))
        point_rows.append((run_id, "SuccessPercent", name, None, ms, 0.0 if failed else 100.0))
        point_rows.append((run_id, "Duration", name, None, ms, duration))
    if len(run_rows) >= 20000 or c == canaries - 1:
        with conn:
            conn.executemany("INSERT INTO runs (run_id, canary, attempt, blueprint, status, reason, started_at, ended_at, "
                             "duration_ms, artifacts, report_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)", run_rows)
            conn.executemany("INSERT INTO steps (run_id, idx, name, status, reason, started_at, duration_ms) "
                             "VALUES (?,?,?,?,?,?,?)", step_rows)
            conn.executemany("INSERT INTO datapoints (run_id, metric, canary, step, ts, value) VALUES (?,?,?,?,?,?)",
                             point_rows)
        run_rows, step_rows, point_rows = [], [], []
conn.execute("ANALYZE")
conn.close()
