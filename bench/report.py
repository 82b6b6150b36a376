#!/usr/bin/env python3
"""Print the benchmark's table from the TSV that bench/run.sh writes.

    bench/report.py RESULTS.tsv                 the report of one run
    bench/report.py RESULTS.tsv OLD.tsv         ... plus each target's change
                                                from OLD (e.g. bench/results/LAST.tsv
                                                before a change)

TSV rows: kind, target, name, value, unit, note (tab-separated).
"""
import sys
from collections import defaultdict

# name, label, unit, item, goal vs kernel
WORKLOADS = [
    ("seqwrite", "seq write 1M + fsync", "MB/s", "MiB", 1.0),
    ("seqread", "seq read, cold", "MB/s", "MiB", 1.0),
    ("randread", "rand 4K read, cold", "IOPS", "I/O", 2.0),
    ("randwrite", "rand 4K write + fsync", "IOPS", "I/O", 0.8),
    ("create", "create + sync", "files/s", "file", 0.3),
    ("stat", "readdir+stat, cold", "entries/s", "entry", 1.0),
    ("unlink", "unlink", "files/s", "file", 0.3),
    ("untar", "untar tree", "files/s", "file", 0.3),
    ("treeread", "read tree, cold", "files/s", "file", 0.8),
    ("rmrf", "rm -rf tree", "files/s", "file", 0.3),
]
CEILING_GOAL = 0.8
REQ_GOALS = {"create": 5, "unlink": 3, "untar": 7, "rmrf": 3}
MOUNT_GOAL_MS = 20
MEM_GOAL_MIB = 64
TARGETS = ["kernel", "fuse2fs", "safemount", "ceiling"]
FUSE_TARGETS = ["fuse2fs", "safemount", "ceiling"]


def load(path):
    d = {
        "meta": {}, "result": {}, "req": defaultdict(dict), "reqitems": {},
        "disk": {}, "mount": {}, "mem": defaultdict(dict), "fsck": {}, "notes": [],
    }
    with open(path) as f:
        for line in f:
            c = line.rstrip("\n").split("\t")
            c += [""] * (6 - len(c))
            kind, target, name, value, unit, note = c[:6]
            if kind == "meta":
                d["meta"][name] = value
            elif kind == "result":
                d["result"][(target, name)] = value
            elif kind == "req":
                d["req"][(target, name)][value] = int(unit)
            elif kind == "reqitems":
                d["reqitems"][(target, name)] = float(value)
            elif kind == "disk":
                d["disk"][name] = (value, unit)
            elif kind == "mount":
                d["mount"][target] = (value, note)
            elif kind == "mem":
                d["mem"][target][name] = value
            elif kind == "fsck":
                d["fsck"][target] = (value, note)
            elif kind == "note":
                d["notes"].append((target, name, value))
    return d


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(v):
    x = num(v)
    if x is None:
        return v if v else "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}"


def ratio(a, b):
    a, b = num(a), num(b)
    if a is None or b is None or b == 0:
        return None
    return a / b


def rfmt(r):
    return "-" if r is None else f"{r:.2f}"


def table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = []
        for i, c in enumerate(r):
            # text columns left, numbers right
            cells.append(c.ljust(widths[i]) if i in (0, 1, len(r) - 1) else c.rjust(widths[i]))
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    d = load(sys.argv[1])
    old = load(sys.argv[2]) if len(sys.argv) == 3 else None
    m = d["meta"]
    res = d["result"]
    print(f"safemount benchmark — {'QUICK' if m.get('quick') == '1' else 'FULL'} — "
          f"{m.get('date', '?')}, kernel {m.get('kernel', '?')}, {m.get('cpus', '?')} CPUs, "
          f"commit {m.get('commit', '?')}")
    print(f"sizes: {m.get('sizes', '?')} ({m.get('tree_entries', '?')} entries)"
          + (f"; {m['pinned']}" if "pinned" in m else ""))
    disk = d["disk"]
    if disk:
        sr, rr = disk.get("seqread", ("?", "")), disk.get("randread", ("?", ""))
        print(f"disk (O_DIRECT, beside the images): seq read 1 MiB {fmt(sr[0])} MB/s, "
              f"random 4 KiB read QD1 {fmt(rr[0])} IOPS")
    print()

    have_ceiling = any(t == "ceiling" and num(v) is not None for (t, _), v in res.items())
    rows = [["workload", "unit"] + TARGETS + ["sm/kern", "sm/ceil", "f2fs/kern", "goal"]]
    for name, label, unit, _, kgoal in WORKLOADS:
        vals = [res.get((t, name), "") for t in TARGETS]
        smk = ratio(res.get(("safemount", name)), res.get(("kernel", name)))
        smc = ratio(res.get(("safemount", name)), res.get(("ceiling", name)))
        fk = ratio(res.get(("fuse2fs", name)), res.get(("kernel", name)))
        # judged on the ratios as printed (two decimals)
        miss = []
        if smk is not None and round(smk, 2) < kgoal:
            miss.append(f"≥ {kgoal:g} × kernel")
        if smc is not None and round(smc, 2) < CEILING_GOAL:
            miss.append(f"≥ {CEILING_GOAL:g} × ceiling")
        if smk is None and smc is None:
            goal = "-"
        elif miss:
            goal = "NOT met (goal " + ", ".join(miss) + ")"
        else:
            goal = "met" if have_ceiling else "met (vs kernel; no ceiling)"
        rows.append([label, unit] + [fmt(v) for v in vals] + [rfmt(smk), rfmt(smc), rfmt(fk), goal])
    print(table(rows))
    print(f"goals: safemount/kernel as in the goal column; safemount/ceiling ≥ {CEILING_GOAL:g} on every workload")

    # Why a goal is missed, from this run's own numbers: if the in-memory
    # ceiling (same glue, same requests, no ext4) also misses the kernel
    # goal, the FUSE transport bounds the workload here; otherwise the
    # server's own work does.  docs/performance.md has the measured detail.
    why = []
    for name, label, unit, _, kgoal in WORKLOADS:
        smk = ratio(res.get(("safemount", name)), res.get(("kernel", name)))
        smc = ratio(res.get(("safemount", name)), res.get(("ceiling", name)))
        ck = ratio(res.get(("ceiling", name)), res.get(("kernel", name)))
        if smk is None:
            continue
        if round(smk, 2) < kgoal:
            if ck is not None and round(ck, 2) < kgoal:
                why.append(f"  {label}: transport-bound here: even the ceiling reaches only "
                           f"{rfmt(ck)} × kernel (goal {kgoal:g})")
            elif smc is not None:
                why.append(f"  {label}: server-bound: the ceiling reaches {rfmt(ck)} × kernel, "
                           f"safemount {rfmt(smc)} × the ceiling"
                           + (" (but the ceiling's data never comes from a disk)" if "cold" in label else ""))
            else:
                why.append(f"  {label}: {rfmt(smk)} × kernel (goal {kgoal:g}); no ceiling in this run")
        elif smc is not None and round(smc, 2) < CEILING_GOAL:
            why.append(f"  {label}: kernel goal met; {rfmt(smc)} × the ceiling is the server's own cost")
    if why:
        print("why goals are missed (from this run; see docs/performance.md):")
        print("\n".join(why))

    # Requests per item
    any_req = False
    for t in FUSE_TARGETS:
        phases = [w for w in WORKLOADS if (t, w[0]) in d["req"]]
        if not phases:
            continue
        if not any_req:
            print()
            print("FUSE requests per item (tracepoint fuse:fuse_request_send, counted per opcode):")
            any_req = True
        print(f"  {t}:")
        for name, label, _, item, _ in phases:
            counts = d["req"][(t, name)]
            items = d["reqitems"].get((t, name), 0)
            tot = counts.get("TOTAL", 0)
            if not items:
                continue
            if not tot:
                print(f"    {name:<10} no FUSE requests traced")
                continue
            ops = sorted(((n, o) for o, n in counts.items() if o != "TOTAL"), reverse=True)
            # the main opcodes; the ones below 0.01 per item summed as "other"
            shown = [(n, o) for n, o in ops if n / items >= 0.01][:8] or ops[:1]
            rest = sum(n for n, _ in ops) - sum(n for n, _ in shown)
            top = ", ".join(f"{o} {n / items:.2f}" if n / items < 10 else f"{o} {n / items:.0f}"
                            for n, o in shown)
            if rest / items >= 0.005:
                top += f", other {rest / items:.2f}"
            g = ""
            if name in REQ_GOALS:
                ok = round(tot / items, 2) <= REQ_GOALS[name]
                g = f"  goal ≤ {REQ_GOALS[name]}: {'met' if ok else 'NOT met'}"
            print(f"    {name:<10} {tot / items:8.2f}/{item:<5} ({top}){g}")

    # Mount time, memory
    print()
    mt = d["mount"]
    if mt:
        parts = [f"{t} {fmt(mt[t][0])} ms" for t in TARGETS if t in mt]
        line = "mount time (median of cold mounts of the finished image): " + ", ".join(parts)
        if "safemount" in mt:
            ok = num(mt["safemount"][0]) is not None and num(mt["safemount"][0]) <= MOUNT_GOAL_MS
            line += f" — safemount goal ≤ {MOUNT_GOAL_MS} ms: {'met' if ok else 'NOT met'}"
        print(line)
    for t in FUSE_TARGETS:
        mm = d["mem"].get(t)
        if not mm or not mm.get("end_rss_kb"):
            continue
        rss, hwm = num(mm.get("end_rss_kb")), num(mm.get("end_hwm_kb"))
        peak = num(mm.get("peak_hwm_kb")) or hwm
        line = (f"{t} server memory at the end of the run: VmRSS {rss / 1024:.1f} MiB, "
                f"VmHWM {hwm / 1024:.1f} MiB; peak VmHWM over the run's servers {peak / 1024:.1f} MiB")
        if t == "safemount":
            ok = peak / 1024 <= MEM_GOAL_MIB
            line += f" — goal ≤ {MEM_GOAL_MIB} MiB: {'met' if ok else 'NOT met'}"
        print(line)

    if d["fsck"]:
        print("e2fsck -fn after the run: " + ", ".join(
            f"{t} {v[0]}" + (f" ({v[1]})" if v[1] else "") for t, v in d["fsck"].items()))

    if old:
        print()
        print("change from the old run (new / old):")
        for t in TARGETS:
            parts = []
            for name, *_ in WORKLOADS:
                r = ratio(res.get((t, name)), old["result"].get((t, name)))
                if r is not None:
                    parts.append(f"{name} {r:.2f}")
            if parts:
                print(f"  {t}: " + ", ".join(parts))

    if d["notes"]:
        print()
        print("notes:")
        for t, name, v in d["notes"]:
            print(f"  {t} {name}: {v}")


if __name__ == "__main__":
    main()
