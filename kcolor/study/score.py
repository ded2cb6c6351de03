"""``kcolor study score``: participants' results files + ``key.json`` → fool rates.

The fool rate is the fraction of a participant's (non-check) pairs in which
they chose the colorized photo as the real one: 50% means people cannot tell
the model's photos from real ones, 0% that they always can. Each rate comes
with a 95% Wilson score interval. Participants who miss more than
``max_missed`` attention checks are excluded from the pooled rows (and listed).
The pooled interval treats every trial as independent, which understates the
uncertainty when participants differ a lot: look at the per-participant rows.
With two or more models, each pair of models is compared: the difference of
their pooled fool rates with Newcombe's interval and a two-proportion z-test.
"""

import json
import os
import statistics

from kcolor.study import FORMAT, StudyError, stats


def _load(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except OSError as e:
        raise StudyError(f"{path}: cannot read: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StudyError(f"{path}: not JSON ({e})") from e
    if not isinstance(obj, dict) or obj.get("kcolor_study") is None:
        raise StudyError(f"{path}: not a kcolor study {what} (no kcolor_study field)")
    if obj["kcolor_study"] != FORMAT:
        raise StudyError(f"{path}: {what} format {obj['kcolor_study']!r}; this kcolor reads {FORMAT}")
    return obj


def load_key(path):
    key = _load(path, "key")
    if not isinstance(key.get("pairs"), dict) or not isinstance(key.get("models"), list):
        raise StudyError(f"{path}: a key needs 'pairs' and 'models'")
    return key


def find_key(results_paths):
    """The ``key.json`` beside the first results file or in its parent folder."""
    folder = os.path.dirname(os.path.abspath(results_paths[0]))
    for where in (folder, os.path.dirname(folder)):
        path = os.path.join(where, "key.json")
        if os.path.isfile(path):
            return path
    raise StudyError(f"{results_paths[0]}: no key.json beside it or in its parent folder; "
                     "pass --key=STUDY_FOLDER/key.json")


def session(path, key, key_path):
    """One results file checked against the key: {participant, started, trials}."""
    res = _load(path, "results file")
    if res.get("study_id") != key["study_id"]:
        raise StudyError(f"{path}: from study {res.get('study_id')!r}, but {key_path} is study "
                         f"{key['study_id']!r}")
    trials = res.get("trials")
    if not isinstance(trials, list) or not isinstance(res.get("participant"), str):
        raise StudyError(f"{path}: needs 'participant' and a list of 'trials'")
    for i, t in enumerate(trials):
        ok = (isinstance(t, dict) and t.get("pair") in key["pairs"]
              and t.get("chosen_image") in ("a", "b")
              and isinstance(t.get("rt_ms"), (int, float)) and not isinstance(t["rt_ms"], bool))
        if not ok:
            raise StudyError(f"{path}: trial {i + 1} is not a known pair with chosen_image a/b "
                             f"and a numeric rt_ms: {json.dumps(t)[:120]}")
    return res


def _tally(res, key, models):
    """Per model [fooled, pairs, response times]; [checks passed, checks]."""
    per_model = {m: [0, 0, []] for m in models}
    checks = [0, 0]
    for t in res["trials"]:
        answer = key["pairs"][t["pair"]]
        chose_real = t["chosen_image"] == answer["real"]
        if answer.get("check"):
            checks[0] += chose_real
            checks[1] += 1
        else:
            row = per_model.setdefault(answer["model"], [0, 0, []])
            row[0] += not chose_real
            row[1] += 1
            row[2].append(float(t["rt_ms"]))
    return per_model, checks


def score(results_paths, key_path=None, max_missed=0, log=print):
    """Scores results files against a key; returns a report dict (see ``table``)."""
    if not results_paths:
        raise StudyError("no results files given")
    for path in results_paths:
        if not os.path.isfile(path):
            raise StudyError(f"{path}: no such file")
    key_path = key_path or find_key(results_paths)
    key = load_key(key_path)
    models = [m["label"] for m in key["models"]]
    participants, seen, labels = [], {}, {}
    for path in results_paths:
        res = session(path, key, key_path)
        ident = (res["participant"], res.get("started"))
        if ident in seen:
            log(f"{path}: the same session as {seen[ident]}, counted once")
            continue
        seen[ident] = path
        n = labels[res["participant"]] = labels.get(res["participant"], 0) + 1
        per_model, checks = _tally(res, key, models)
        participants.append({
            "participant": res["participant"] + (f" ({n})" if n > 1 else ""), "file": path,
            "models": per_model, "checks": checks,
            "excluded": checks[1] - checks[0] > max_missed,
        })
    pooled = {m: [0, 0, []] for m in models}
    for p in participants:
        if not p["excluded"]:
            for m, (k, n, rts) in p["models"].items():
                row = pooled.setdefault(m, [0, 0, []])
                row[0] += k
                row[1] += n
                row[2] += rts
    comparisons = []
    names = [m for m in pooled if pooled[m][1]]
    for i, m1 in enumerate(names):
        for m2 in names[i + 1:]:
            (k1, n1, _), (k2, n2, _) = pooled[m1], pooled[m2]
            d, lo, hi = stats.newcombe_difference(k1, n1, k2, n2)
            comparisons.append({"models": (m1, m2), "difference": d, "ci": (lo, hi),
                                "p": stats.two_proportion_p(k1, n1, k2, n2)})
    return {"key": key_path, "study_id": key["study_id"], "max_missed": max_missed,
            "checks_per_session": sum(1 for a in key["pairs"].values() if a.get("check")),
            "participants": participants, "pooled": pooled, "comparisons": comparisons}


def _pct(x):
    return f"{100 * x:.1f}%"


def _row(name, model, k, n, rts, checks=""):
    if not n:
        return f"| {name} | {model} | 0 | | | | | {checks} |"
    lo, hi = stats.wilson(k, n)
    rt = statistics.median(rts) / 1000
    return (f"| {name} | {model} | {n} | {k} | {_pct(k / n)} | {_pct(lo)} – {_pct(hi)} | "
            f"{rt:.1f} | {checks} |")


def table(report):
    """The report as Markdown: a fool-rate table, exclusions, model comparisons."""
    parts = report["participants"]
    kept = [p for p in parts if not p["excluded"]]
    lines = ["| participant | model | pairs | chose the colorized photo | fool rate | "
             "95% CI (Wilson) | median time (s) | attention checks passed |",
             "|---|---|---|---|---|---|---|---|"]
    for p in parts:
        name = p["participant"] + (" (excluded)" if p["excluded"] else "")
        checks = f"{p['checks'][0]} / {p['checks'][1]}"
        for m, (k, n, rts) in p["models"].items():
            lines.append(_row(name, m, k, n, rts, checks))
    for m, (k, n, rts) in report["pooled"].items():
        lines.append(_row(f"**pooled ({len(kept)} of {len(parts)})**", f"**{m}**", k, n, rts))
    out = ["Fool rate: how often the colorized photo was chosen as the real one "
           "(50% = indistinguishable from real photos).", "", *lines, ""]
    excluded = [p["participant"] for p in parts if p["excluded"]]
    out.append(f"Excluded: {len(excluded)} of {len(parts)} participants (more than "
               f"{report['max_missed']} of {report['checks_per_session']} attention checks missed)"
               + (f": {', '.join(excluded)}." if excluded else "."))
    if report["comparisons"]:
        out += ["", "| comparison | fool rate difference | 95% CI (Newcombe) | p (two-proportion z-test) |",
                "|---|---|---|---|"]
        for c in report["comparisons"]:
            p = "–" if c["p"] is None else f"{c['p']:.3g}"
            out.append(f"| {c['models'][0]} − {c['models'][1]} | {100 * c['difference']:+.1f} points | "
                       f"{100 * c['ci'][0]:+.1f} to {100 * c['ci'][1]:+.1f} | {p} |")
    return "\n".join(out)
